"""benchmarks/recipes.py's pairing of runs: the numbers issue 13's adoption decisions rest on."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _recipes_benchmark() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "recipes.py"
    spec = importlib.util.spec_from_file_location("_recipes_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and the like look their module up
    spec.loader.exec_module(module)
    return module


bench = _recipes_benchmark()
catalogue = sys.modules["recipe_candidates"]  # benchmarks/recipe_candidates.py, loaded by bench


def record(
    candidate: str,
    seed: int,
    val: float,
    test: float,
    *,
    threads: int = 1,
    cpu: str = "AMD EPYC",
    flags: tuple[str, ...] | None = ("avx2",),
    size: int = 64,
    shadows: dict[str, dict[str, float]] | None = None,
) -> dict[str, Any]:
    return {
        "candidate": candidate,
        "seed": seed,
        "size": size,
        "n_blocks": 6,
        "steps": 1000,
        "threads": threads,
        "generator": {"base_channels": 64},
        "machine": {"cpu_model": cpu}
        if flags is None
        else {"cpu_model": cpu, "cpu_flags": list(flags), "cpu_amx": "amx_bf16" in flags},
        "validation_l1": val,
        "test_l1": test,
        "shadows": shadows or {},
    }


def test_runs_pair_only_on_the_same_realisation() -> None:
    records = [
        record("a", 0, 0.20, 0.21),
        record("a", 1, 0.18, 0.19),
        record("a", 2, 0.30, 0.30, threads=2),  # no partner with 2 threads
        record("a", 3, 0.30, 0.30, cpu="Intel Xeon"),  # partner on another CPU kind
        record("a", 4, 0.30, 0.30, size=128),  # partner at another size
        # the same model name with AVX-512: another kind; without flags recorded: unknown kind
        record("a", 5, 0.30, 0.30, flags=("avx2", "avx512f", "avx512_bf16")),
        record("a", 6, 0.30, 0.30, flags=None),
        record("b", 0, 0.15, 0.17),
        record("b", 1, 0.19, 0.18),
        record("b", 2, 0.10, 0.10),
        record("b", 3, 0.10, 0.10),
        record("b", 4, 0.10, 0.10),
        record("b", 5, 0.10, 0.10),
        record("b", 6, 0.10, 0.10, flags=None),
        record("c", 0, 0.10, 0.10),  # another candidate
    ]
    rows = bench.paired_runs(records, "a", "b")
    assert [(r["seed"], r["threads"], r["cpu"]) for r in rows] == [
        (0, 1, "AMD EPYC/avx2"),
        (1, 1, "AMD EPYC/avx2"),
        (6, 1, "AMD EPYC"),
    ]
    assert rows[0]["base"] == (0.20, 0.21) and rows[0]["candidate"] == (0.15, 0.17)
    assert rows[1]["base"] == (0.18, 0.19) and rows[1]["candidate"] == (0.19, 0.18)
    assert [r["seed"] for r in bench.paired_runs(records, "a", "b", setting="128")] == []


def test_shadows_replace_the_runs_own_scores_and_runs_without_them_drop_out() -> None:
    p0 = {"ema0.999_p0": {"validation_l1": 0.11, "test_l1": 0.12}}
    records = [
        record("a", 0, 0.20, 0.21),
        record("a", 1, 0.18, 0.19),
        record("b", 0, 0.15, 0.17, shadows=p0),
        record("b", 1, 0.19, 0.18),  # no such shadow: not paired
    ]
    rows = bench.paired_runs(records, "a", "b", shadow="ema0.999_p0")
    assert len(rows) == 1 and rows[0]["candidate"] == (0.11, 0.12)
    rows = bench.paired_runs(records, "b", "a", base_shadow="ema0.999_p0")
    assert len(rows) == 1 and rows[0]["base"] == (0.11, 0.12)


def test_a_repeated_realisation_counts_once_with_its_last_record() -> None:
    records = [record("a", 0, 0.20, 0.21), record("a", 0, 0.30, 0.31), record("b", 0, 0.1, 0.1)]
    (row,) = bench.paired_runs(records, "a", "b")
    assert row["base"] == (0.30, 0.31)


def _paired_command(
    out: Path,
    records: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *options: str,
) -> str:
    """What ``recipes.py paired --base a --candidates b`` prints for ``records``."""
    import json

    (out / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    argv = ["recipes.py", "paired", "--out", str(out), "--base", "a", "--candidates", "b"]
    monkeypatch.setattr(sys, "argv", [*argv, *options])
    bench.main()
    return capsys.readouterr().out


def test_the_paired_command_prints_the_mean_difference_and_its_standard_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [
        record("a", 0, 0.20, 0.20),
        record("a", 1, 0.10, 0.10),
        record("b", 0, 0.18, 0.19),
        record("b", 1, 0.06, 0.07),
    ]
    out = _paired_command(tmp_path, records, capsys, monkeypatch)
    assert "2 paired runs" in out
    # differences -0.02 and -0.04 on validation: mean -0.03, SE = stdev / sqrt(2) = 0.01
    assert "validation -0.0300 (SE 0.0100; -20.0% of the base's mean 0.1500)" in out
    # test: -0.01 and -0.03, mean -0.02, SE 0.01
    assert "test -0.0200 (SE 0.0100; -13.3% of the base's mean 0.1500)" in out


def test_two_seed_changes_pair_seeds_within_one_realisation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [
        record("a", 0, 0.2, 0.20),
        record("a", 1, 0.2, 0.20),
        record("a", 2, 0.2, 0.10),
        record("a", 0, 0.2, 0.20, threads=2),
        record("b", 0, 0.1, 0.14),
        record("b", 1, 0.1, 0.15),
        record("b", 2, 0.1, 0.05),
        record("b", 0, 0.1, 0.10, threads=2),  # alone in its realisation: no pair
    ]
    rows = bench.paired_runs(records, "a", "b")
    # (0, 1): 0.29 / 0.40; (0, 2): 0.19 / 0.30; (1, 2): 0.20 / 0.30
    assert bench.two_seed_changes(rows) == pytest.approx([-0.275, -11 / 30, -1 / 3])
    out = _paired_command(tmp_path, records, capsys, monkeypatch)
    assert "means of two seeds on test: 3 of 3 pairs at least 25% below" in out
    assert "(from -36.7% to -27.5%)" in out
    out = _paired_command(tmp_path, records, capsys, monkeypatch, "--goal", "0.35")
    assert "1 of 3 pairs at least 35% below" in out


def test_the_time_command_alternates_the_candidates_and_records_their_ratios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import torch

    names = ["reference", "ref+ema_p2+residual+no_identity+d_no_norm"]
    argv = ["recipes.py", "time", "--out", str(tmp_path), "--candidates", *names]
    argv += ["--size", "32", "--n-blocks", "1", "--width", "4", "--threads", "1"]
    argv += ["--warmup", "0", "--repeats", "2", "--block", "1"]
    monkeypatch.setattr(sys, "argv", argv)
    threads = torch.get_num_threads()
    try:
        bench.main()
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "x1.000 of reference" in out and names[1] in out
    (line,) = (tmp_path / "timing.jsonl").read_text().splitlines()
    rec = json.loads(line)
    assert (rec["size"], rec["n_blocks"], rec["width"], rec["threads"]) == (32, 1, 4, 1)
    assert (rec["repeats"], rec["block"]) == (2, 1) and "cpu_model" in rec["machine"]
    assert set(rec["results"]) == set(names)
    assert rec["results"]["reference"]["ratio_to_first"] == 1.0
    for r in rec["results"].values():
        assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"]
    timing = sys.modules["recipe_timing"]
    with pytest.raises(ValueError, match="expected repeats >= 1"):
        timing.time_candidates(
            names, overrides={}, size=32, threads=1, warmup=0, repeats=0, block=1, out=tmp_path
        )


def test_a_run_counts_as_done_only_for_its_own_thread_count_and_cpu_kind(
    tmp_path: Path,
) -> None:
    import json

    xeon = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
    runs = [
        record("a", 0, 0.2, 0.2, cpu="Intel Xeon", flags=xeon),
        record("a", 1, 0.2, 0.2, threads=2),
        record("a", 2, 0.2, 0.2, flags=("avx2", "avx512f")),
    ]
    (tmp_path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    done = bench._done(tmp_path)
    assert ("a", 0, "64", 1000, 1, "Intel Xeon/amx") in done
    assert ("a", 0, "64", 1000, 1, "AMD EPYC/avx2") not in done
    assert ("a", 1, "64", 1000, 2, "AMD EPYC/avx2") in done
    assert ("a", 1, "64", 1000, 1, "AMD EPYC/avx2") not in done
    assert ("a", 2, "64", 1000, 1, "AMD EPYC/avx512") in done
    assert ("a", 2, "64", 1000, 1, "AMD EPYC/avx2") not in done


def test_checkpoint_folders_keep_realisations_apart(tmp_path: Path) -> None:
    def folder(threads: int, cpu: str | None) -> Path:
        path = bench.checkpoint_dir(tmp_path, "improved", 0, "64/b3/w16", threads, cpu)
        assert isinstance(path, Path)
        return path

    one = folder(1, "AMD EPYC/avx512")
    assert one.parent == tmp_path / "checkpoints"
    assert one.name == "improved_s0_64_b3_w16_1t_AMD-EPYC-avx512"
    # another CPU kind or thread count is another realisation: another folder to resume from
    others = {folder(1, "AMD EPYC/avx2"), folder(2, "AMD EPYC/avx512"), folder(1, None)}
    assert one not in others and len(others) == 3
    assert "/" not in folder(1, "Intel(R) Xeon(R) Processor/amx").name


def test_saved_weights_are_kept_per_realisation_and_load_for_the_latest_record(
    tmp_path: Path,
) -> None:
    import json

    import torch

    def path(threads: int, cpu: str | None) -> Path:
        found = bench.weights_path(tmp_path, "improved", 0, "64", threads, cpu)
        assert isinstance(found, Path)
        return found

    one = path(1, "AMD EPYC/avx512")
    assert one.parent == tmp_path / "weights"
    assert one.name == "improved_s0_64_1t_AMD-EPYC-avx512.pt"
    assert len({one, path(2, "AMD EPYC/avx512"), path(1, "AMD EPYC/avx2")}) == 3
    # a prototype's generator (gated skips added to it) loads as the run built it
    name = "ref+ema_p2+residual+no_identity+d_no_norm+unet_skips"
    torch.manual_seed(1)
    generator = bench.candidates()[name](0, {"n_blocks": 1, "base_channels": 4}).model.g_xy
    assert "decoder.gammas.0" in generator.state_dict()
    flags = ["avx2", "avx512f"]
    run = record(name, 0, 0.2, 0.2, flags=tuple(flags)) | {
        "generator": bench._generator_record(generator)
    }
    run["n_blocks"] = 1
    setting = bench._record_setting(run)
    assert setting == "64/b1/w4"
    (tmp_path / "runs.jsonl").write_text(json.dumps(run) + "\n")
    saved = bench.weights_path(tmp_path, name, 0, setting, 1, "AMD EPYC/avx512")
    with pytest.raises(FileNotFoundError, match=re.escape(saved.name)):
        bench._load_generator(tmp_path, name, 0, setting)
    saved.parent.mkdir()
    torch.save(generator.state_dict(), saved)
    loaded = bench._load_generator(tmp_path, name, 0, setting)
    _assert_same_weights(loaded, generator)
    assert not loaded.training
    # a later run of the seed with 2 threads (another realisation, its weights not saved) is
    # the latest; the 1-thread run's weights still load when its realisation is asked for
    with open(tmp_path / "runs.jsonl", "a") as f:
        f.write(json.dumps({**run, "threads": 2}) + "\n")
    later = bench.weights_path(tmp_path, name, 0, setting, 2, "AMD EPYC/avx512")
    with pytest.raises(FileNotFoundError, match=re.escape(later.name)):
        bench._load_generator(tmp_path, name, 0, setting)
    _assert_same_weights(bench._load_generator(tmp_path, name, 0, setting, threads=1), generator)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(x), generator.eval()(x))


def _seeded_spec(name: str, over: dict[str, Any]) -> Any:
    """Candidate ``name``'s spec built as ``recipes.py run`` builds it (seed 0), torch's
    generator seeded with 0 first, so two builds share every common draw."""
    import torch

    torch.manual_seed(0)
    return bench.candidates()[name](0, dict(over))


def _seeded(suffix: str, over: dict[str, Any]) -> Any:
    """The model of ``$P+suffix`` (``""``: the recipe ``$P`` itself), as :func:`_seeded_spec`."""
    name = "ref+ema_p2+residual+no_identity+d_no_norm" + (f"+{suffix}" if suffix else "")
    return _seeded_spec(name, over).model


def _assert_same_weights(net: Any, same: Any) -> None:
    """``net`` and ``same`` hold equal tensors under the same state-dict keys."""
    import torch

    assert net.state_dict().keys() == same.state_dict().keys()
    for a, b in zip(net.state_dict().values(), same.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def _assert_layers_rebuilt(
    nets: Any, sames: Any, part: str, kinds: list[list[str]], size: int
) -> None:
    """Each of ``nets`` has ``part`` made of layers with the children ``kinds``, the weights of
    its twin in ``sames`` under the same keys, and another output of the same shape."""
    import torch

    for net, same in zip(nets, sames, strict=True):
        layers = getattr(net, part)
        assert [[type(m).__name__ for m in layer.children()] for layer in layers] == kinds
        _assert_same_weights(net, same)
        x = torch.rand(1, 3, size, size) * 2 - 1
        assert net(x).shape == same(x).shape and not torch.equal(net(x), same(x))


def test_every_candidate_builds_the_reference_with_the_methods_its_name_adds() -> None:
    from torch import nn

    from unpaired_i2i import EMA

    candidates = bench.candidates()
    small = {"n_blocks": 1, "base_channels": 4}
    for name, build in candidates.items():
        spec = build(0, dict(small))
        assert bench._generator_record(spec.model.g_xy)["n_blocks"] == 1, name
        has_ema = any(isinstance(c, EMA) for c in spec.callbacks)
        assert has_ema == ("ema" in name or name.startswith("improved")), name
    reference = candidates["reference"](0, dict(small))
    cur = "ref+ema_p2+residual+no_identity+d_no_norm"
    assert candidates[cur + "+cycle20"](0, dict(small)).config.lambda_cycle == 20.0
    assert candidates[cur + "+cycle5"](0, dict(small)).config.lambda_cycle == 5.0
    assert reference.config.lambda_cycle == 10.0
    assert candidates[cur + "+no_pool"](0, dict(small)).config.pool_size == 0
    assert reference.config.pool_size == 50
    assert candidates[cur + "+pool100"](0, dict(small)).config.pool_size == 100
    fast = candidates[cur + "+lr2x"](0, dict(small)).config
    assert fast.lr == 4e-4 and fast.lr_d is None
    layer = candidates["ref+ema_p2+residual+no_identity+d_layer_norm"](0, dict(small))
    norms = [m for m in layer.model.d_x.modules() if isinstance(m, nn.GroupNorm)]
    assert norms and all(m.num_groups == 1 and not m.affine for m in norms)
    assert not any(isinstance(m, nn.InstanceNorm2d) for m in layer.model.d_x.modules())
    no_norm = candidates[cur + "+g_no_norm"](0, dict(small)).model
    assert not any(isinstance(m, nn.InstanceNorm2d) for m in no_norm.modules())
    g_layer = candidates[cur + "+g_layer_norm"](0, dict(small)).model
    for net in g_layer.generators:
        norms = [m for m in net.modules() if isinstance(m, nn.GroupNorm)]
        assert norms and all(m.num_groups == 1 and not m.affine for m in norms)
        assert not any(isinstance(m, nn.InstanceNorm2d) for m in net.modules())
    assert not any(isinstance(m, (nn.GroupNorm, nn.InstanceNorm2d)) for m in g_layer.d_x.modules())
    assert bench._generator_record(g_layer.g_xy)["norm"] == "_layer_norm"
    assert bench._generator_record(reference.model.g_xy)["norm"] == "instance"
    assert candidates[cur + "+lr_half"](0, dict(small)).config.lr == 1e-4
    deep = candidates[cur + "+d_layers4"](0, {"n_blocks": 1, "base_channels": 64}).model.d_y
    assert deep.get_config()["n_layers"] == 4 and deep.get_config()["norm"] == "none"
    assert deep.output_size(64, 64) == (2, 2)
    shallow = candidates[cur + "+d_layers2"](0, {"n_blocks": 1, "base_channels": 64}).model.d_x
    assert shallow.get_config()["n_layers"] == 2 and shallow.get_config()["norm"] == "none"
    assert shallow.output_size(64, 64) == (14, 14)
    resize = candidates[cur + "+resize_conv"](0, dict(small)).model
    assert resize.g_xy.get_config()["upsampling"] == "resize_conv"
    assert reference.model.g_xy.get_config()["upsampling"] == "transpose"
    assert candidates[cur + "+betas_0_0.99"](0, dict(small)).config.betas == (0.0, 0.99)
    up4 = candidates[cur + "+up_kernel4"](0, dict(small)).model.g_yx.get_config()
    assert up4["up_kernel_size"] == 4 and up4["upsampling"] == "transpose"
    narrow = candidates[cur + "+d_width32"](0, {"n_blocks": 1, "base_channels": 64}).model
    assert narrow.d_x.get_config()["base_channels"] == 32
    assert narrow.d_x.get_config()["norm"] == "none"
    assert narrow.g_xy.get_config()["base_channels"] == 64
    wide = candidates[cur + "+d_width128"](0, {"n_blocks": 1, "base_channels": 64}).model
    assert wide.d_y.get_config()["base_channels"] == 128
    deeper = candidates[cur + "+n_down3"](0, dict(small)).model
    for net in deeper.generators:
        assert net.get_config()["n_downsampling"] == 3 and net.downsampling_factor == 8
    assert reference.model.g_xy.get_config()["n_downsampling"] == 2
    fast_d = candidates[cur + "+fast_d"](0, dict(small)).config
    assert fast_d.lr == 2e-4 and fast_d.lr_d == 4e-4
    hinge = candidates[cur + "+hinge"](0, dict(small)).config
    assert hinge.gan_mode == "hinge" and not hinge.relativistic
    relativistic = candidates[cur + "+relativistic"](0, dict(small)).config
    assert relativistic.gan_mode == "lsgan" and relativistic.relativistic
    slow_g = candidates[cur + "+slow_g"](0, dict(small)).config
    assert slow_g.lr == 1e-4 and slow_g.lr_d == 2e-4
    fast_g = candidates[cur + "+fast_g"](0, dict(small)).config
    assert fast_g.lr == 4e-4 and fast_g.lr_d == 2e-4
    assert reference.config.betas == (0.5, 0.999)
    lookahead = candidates[cur + "+lookahead"](0, dict(small)).callbacks
    assert [type(c).__name__ for c in lookahead] == ["Lookahead", "EMA"]  # synced, then averaged
    assert (lookahead[0].k, lookahead[0].alpha) == (5, 0.5)
    assert candidates[cur + "+beta1_0.9"](0, dict(small)).config.betas == (0.9, 0.999)
    dropout = candidates[cur + "+dropout"](0, dict(small)).model
    assert all(net.get_config()["dropout"] == 0.5 for net in dropout.generators)
    assert reference.model.g_xy.get_config()["dropout"] == 0.0
    import torch

    attention_cls = catalogue.prototype("self_attention").SelfAttention
    plain = _seeded("", small)
    attended = _seeded("self_attention", small)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    for net, same in zip(attended.generators, plain.generators, strict=True):
        blocks = [type(m) for m in net.blocks]
        assert blocks.count(attention_cls) == 1 and blocks.index(attention_cls) == 1
        with torch.no_grad():  # gamma starts at 0: the recipe's generator, block for block
            assert torch.equal(net(x), same(x))
    he = _seeded("d_kaiming", {"n_blocks": 1, "base_channels": 64})
    small_d = _seeded("d_gain_0.01", {"n_blocks": 1, "base_channels": 64})
    plain = _seeded("", {"n_blocks": 1, "base_channels": 64})
    pairs = ((he.d_x, small_d.d_x, plain.d_x), (he.d_y, small_d.d_y, plain.d_y))
    for he_d, small_net, plain_d in pairs:
        assert he_d.get_config()["norm"] == small_net.get_config()["norm"] == "none"
        for a, c, b in zip(he_d.modules(), small_net.modules(), plain_d.modules(), strict=True):
            if isinstance(a, nn.Conv2d):
                fan_in = a.weight[0].numel()
                assert abs(float(a.weight.detach().std()) / (2 / fan_in) ** 0.5 - 1) < 0.1
                assert abs(float(b.weight.detach().std()) / 0.02 - 1) < 0.1
                assert torch.allclose(c.weight, b.weight / 2)  # the same draw, half the scale
    for small_g, plain_g in zip(small_d.generators, plain.generators, strict=True):
        _assert_same_weights(small_g, plain_g)
    stem = _seeded("g_stem_no_norm", small)
    normed = _seeded("", small)
    for net, same in zip(stem.generators, normed.generators, strict=True):
        assert not any(isinstance(m, nn.InstanceNorm2d) for m in net.stem.modules())
        assert isinstance(same.stem.norm, nn.InstanceNorm2d)
        later = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
        assert len(later) == sum(isinstance(m, nn.InstanceNorm2d) for m in same.modules()) - 1
        _assert_same_weights(net, same)  # only the stem's norm is gone
    zero = candidates[cur + "+zero_out"](0, dict(small)).model
    assert all(net.get_config()["zero_init_output"] for net in zero.generators)
    assert zero.d_x.get_config()["norm"] == "none"
    assert not reference.model.g_xy.get_config()["zero_init_output"]
    for he_g, plain_g in zip(he.generators, plain.generators, strict=True):
        _assert_same_weights(he_g, plain_g)
    affine = candidates[cur + "+g_affine_norm"](0, dict(small)).model
    for net in affine.generators:
        inorms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
        assert inorms and all(m.affine for m in inorms)
        assert bench._generator_record(net)["norm"] == "_affine_instance_norm"
    assert not any(getattr(m, "affine", False) for m in reference.model.g_xy.modules())
    assert affine.d_x.get_config()["norm"] == "none"
    ortho = _seeded("g_orthogonal", {"n_blocks": 1, "base_channels": 64})
    for net in ortho.generators:
        for conv in (m for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)):
            rows = conv.weight.detach().flatten(1)
            if rows.shape[0] > rows.shape[1]:
                rows = rows.T
            gram = rows @ rows.T  # orthonormal rows (gain 1)
            assert torch.allclose(gram, torch.eye(len(gram)), atol=1e-4)
    for d in (ortho.d_x, ortho.d_y):  # the recipe's N(0, 0.02) discriminators
        for conv in (m for m in d.modules() if isinstance(m, nn.Conv2d)):
            assert abs(float(conv.weight.detach().std()) / 0.02 - 1) < 0.1
    assert candidates[cur + "+cycle_noise"](0, dict(small)).config.cycle_noise == 0.1
    identity = candidates[cur + "+identity0.1"](0, dict(small)).config
    assert identity.lambda_identity == 0.1 and identity.identity_weight == pytest.approx(1.0)
    assert reference.config.lambda_identity == 0.5
    leaky = _seeded("g_lrelu", small)
    plain = _seeded("", small)
    for net, same in zip(leaky.generators, plain.generators, strict=True):
        assert not any(isinstance(m, nn.ReLU) for m in net.modules())
        slopes = [m.negative_slope for m in net.modules() if isinstance(m, nn.LeakyReLU)]
        assert slopes == [0.2] * sum(isinstance(m, nn.ReLU) for m in same.modules())
        _assert_same_weights(net, same)
        image = torch.rand(1, 3, 16, 16) * 2 - 1
        with torch.no_grad():
            assert not torch.equal(net(image), same(image))
    assert any(isinstance(m, nn.LeakyReLU) for m in leaky.d_x.modules())  # as the recipe's
    width48 = candidates[cur + "+g_width48"](0, {"n_blocks": 1}).model
    assert all(net.get_config()["base_channels"] == 48 for net in width48.generators)
    assert width48.d_x.get_config()["base_channels"] == 64
    assert bench._generator_record(width48.g_xy)["base_channels"] == 48
    spent = candidates[cur + "+g_width48+batch2"](0, {"n_blocks": 1})
    assert all(net.get_config()["base_channels"] == 48 for net in spent.model.generators)
    assert spent.config.lr == pytest.approx(2e-4 * 2**0.5)
    assert bench.BATCH_SIZES[cur + "+g_width48+batch2"] == 2
    assert bench.BATCH_SIZES.get(cur + "+g_width48", 1) == 1
    down4 = candidates[cur + "+down_kernel4"](0, dict(small)).model
    for net in down4.generators:
        assert net.get_config()["down_kernel_size"] == 4
        assert net(torch.zeros(1, 3, 16, 16)).shape == (1, 3, 16, 16)
    assert reference.model.g_xy.get_config()["down_kernel_size"] == 3
    assert reference.config.cycle_noise == 0.0
    reflect = _seeded("d_reflect", {"n_blocks": 1, "base_channels": 64})
    plain = _seeded("", {"n_blocks": 1, "base_channels": 64})
    x = torch.rand(1, 3, 160, 160) * 2 - 1  # 18x18 scores, the inner 12x12 clear of the border
    for d, same in ((reflect.d_x, plain.d_x), (reflect.d_y, plain.d_y)):
        _assert_same_weights(d, same)
        convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
        assert convs and all(m.padding_mode == "reflect" for m in convs)
        with torch.no_grad():
            scores, zero_padded = d(x), same(x)
            assert scores.shape == zero_padded.shape == (1, 1, 18, 18)
            # the interior scores match: only the windows that reach the border differ
            assert torch.allclose(scores[..., 3:-3, 3:-3], zero_padded[..., 3:-3, 3:-3], atol=1e-6)
            assert bool((scores[..., 0, :] != zero_padded[..., 0, :]).all())  # the top row


def test_patch_nce_prefers_the_matching_patch_and_trains_its_heads() -> None:
    import torch

    nce = catalogue.prototype("patch_nce")
    gen = torch.Generator().manual_seed(0)
    key = torch.nn.functional.normalize(torch.randn(2, 16, 8, generator=gen), dim=-1)
    other = torch.nn.functional.normalize(torch.randn(2, 16, 8, generator=gen), dim=-1)
    matched, unmatched = nce.patch_nce_loss(key, key), nce.patch_nce_loss(other, key)
    # each patch its own nearest key: far below chance (log 16 = 2.77); a random query near it
    assert matched < 0.1 < 2.0 < unmatched
    query = other.clone().requires_grad_(True)
    detached_key = key.clone().requires_grad_(True)
    nce.patch_nce_loss(query, detached_key).backward()
    assert query.grad is not None and detached_key.grad is None  # the key is a fixed target

    name = "ref+ema_p2+residual+no_identity+d_no_norm+patch_nce"
    torch.manual_seed(0)
    spec = bench.candidates()[name](0, {"n_blocks": 2, "base_channels": 8})
    g = spec.model.g_xy
    feats = nce.encoder_features(g, torch.zeros(1, 3, 16, 16))
    assert [tuple(f.shape[1:]) for f in feats] == [
        (3, 16, 16),
        (16, 8, 8),
        (32, 4, 4),
        (32, 4, 4),
        (32, 4, 4),
    ]
    heads = g.get_submodule("nce_heads")
    trainer = bench.trainer_class(name)(spec.model, spec.config, callbacks=spec.callbacks)
    assert isinstance(trainer, nce.PatchNCETrainer)
    assert bench.trainer_class("reference") is not type(trainer)
    optimised = {id(p) for group in trainer.optimizer_g.param_groups for p in group["params"]}
    assert all(id(p) in optimised for p in heads.parameters())
    before = [p.detach().clone() for p in heads.parameters()]
    x, y = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    losses = trainer.train_step(x, y)
    parts = sum(losses[k] for k in ("g_adv_xy", "g_adv_yx", "cycle_x", "cycle_y"))
    assert losses["g_total"] > parts + 1.0  # the two NCE terms are in the minimised total
    assert all(not torch.equal(a, b) for a, b in zip(before, heads.parameters(), strict=True))


def test_self_attention_mixes_every_position_once_its_scale_moves() -> None:
    import torch

    attention = catalogue.prototype("self_attention").SelfAttention(16)
    torch.manual_seed(0)
    x = torch.randn(2, 16, 4, 6)
    assert torch.equal(attention(x), x)  # gamma = 0
    with torch.no_grad():
        attention.gamma.fill_(1.0)
    y = attention(x)
    assert y.shape == x.shape
    x2 = x.clone()
    x2[:, :, 0, 0] += 1.0  # one corner changes: every position's output changes
    changed = (attention(x2) - y).abs().sum(dim=1) > 0
    assert bool(changed.all())
    with pytest.raises(ValueError, match="channels: expected >= 8, got 4"):
        catalogue.prototype("self_attention").SelfAttention(4)


def _tiny_trainer(callbacks: list[Any], model_seed: int = 0) -> Any:
    """A float32 trainer of the tiny model: two epochs (full rate, then half), a pool of 2."""
    from _tiny import tiny_model
    from unpaired_i2i import CycleTrainer, TrainConfig

    config = TrainConfig(epochs=1, decay_epochs=1, pool_size=2, lr=1e-3, log_every=1)
    return CycleTrainer(tiny_model(model_seed), config, callbacks=callbacks, device="cpu")


def test_lookahead_moves_the_slow_weights_part_of_the_way_and_resets_the_fast_ones() -> None:
    import torch

    from _tiny import random_batches

    lookahead = catalogue.prototype("lookahead")
    batches = random_batches(1, size=8, batch_size=1)  # 2 epochs of 1 step
    plain = _tiny_trainer([])
    start = [p.detach().clone() for p in plain.model.parameters()]
    plain.fit(batches)  # two ordinary steps
    synced = _tiny_trainer([lookahead.Lookahead(k=2, alpha=0.25)])
    synced.fit(batches)  # the same two steps, then the first synchronisation
    for a, fast, s in zip(synced.model.parameters(), plain.model.parameters(), start, strict=True):
        torch.testing.assert_close(a, s + 0.25 * (fast - s), rtol=0, atol=1e-7)
    moved = sum(not torch.equal(a, s) for a, s in zip(plain.model.parameters(), start, strict=True))
    assert moved > 10
    for bad, match in (({"k": 0}, "k: expected an int >= 1"), ({"alpha": 0.0}, "alpha")):
        with pytest.raises(ValueError, match=match):
            lookahead.Lookahead(**bad)


def test_lookahead_resumes_exactly_from_a_checkpoint(tmp_path: Path) -> None:

    from _tiny import Crash, random_batches
    from unpaired_i2i import ModelCheckpoint

    lookahead = catalogue.prototype("lookahead")
    batches = random_batches(7, size=8, batch_size=1)
    straight = _tiny_trainer([lookahead.Lookahead(k=3)])
    straight.fit(batches)
    crashed = lookahead.Lookahead(k=3)
    first = _tiny_trainer([crashed, ModelCheckpoint(tmp_path, every_n_steps=4), Crash(5)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        first.fit(batches)
    # step 4 saved between synchronisations (3 and 6): the slow weights differ from the fast
    resumed = _tiny_trainer(
        [lookahead.Lookahead(k=3), ModelCheckpoint(tmp_path, every_n_steps=4)], model_seed=9
    )
    resumed.load_checkpoint(tmp_path / "step-00000004.pt")
    resumed.fit(batches)
    assert resumed.state.step == straight.state.step == 14
    _assert_same_weights(straight.model, resumed.model)
    with pytest.raises(ValueError, match="saved with k=3, alpha=0.5, loaded into k=2"):
        lookahead.Lookahead(k=2).load_state_dict(crashed.state_dict())


def test_pearson_lsgan_codes_real_1_fake_minus_1_and_the_generators_target_0() -> None:
    import torch

    from _tiny import tiny_model
    from unpaired_i2i import TrainConfig

    name = "ref+ema_p2+residual+no_identity+d_no_norm+lsgan_pearson"
    cls = bench.trainer_class(name)
    assert cls is catalogue.prototype("lsgan_targets").PearsonLSGANTrainer
    trainer = cls(tiny_model(0), TrainConfig(), device="cpu")
    scores = torch.tensor([[-1.0, 0.0], [1.0, 3.0]])
    # per target: mean of (score - target)^2 over the four scores
    assert trainer._gan(scores, True, for_discriminator=True).item() == (4 + 1 + 0 + 4) / 4
    assert trainer._gan(scores, False, for_discriminator=True).item() == (0 + 1 + 4 + 16) / 4
    assert trainer._gan(scores, True, for_discriminator=False).item() == (1 + 0 + 1 + 9) / 4
    with pytest.raises(ValueError, match="real target only"):
        trainer._gan(scores, False, for_discriminator=False)
    losses = trainer.train_step(torch.rand(1, 3, 8, 8) * 2 - 1, torch.rand(1, 3, 8, 8) * 2 - 1)
    assert all(bool(torch.isfinite(v)) for v in losses.values())
    hinge = cls(tiny_model(0), TrainConfig(gan_mode="hinge"), device="cpu")
    with pytest.raises(ValueError, match="expected gan_mode='lsgan'"):
        hinge.train_step(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    candidates = bench.candidates()
    assert candidates[name](0, {"n_blocks": 1, "base_channels": 4}).config.gan_mode == "lsgan"
    vanilla = candidates["ref+ema_p2+residual+no_identity+d_no_norm+vanilla"]
    assert vanilla(0, {"n_blocks": 1, "base_channels": 4}).config.gan_mode == "vanilla"


def test_two_scale_discriminators_keep_the_recipes_weights_and_weigh_both_scales() -> None:
    import torch

    multiscale = catalogue.prototype("multiscale")
    small = {"n_blocks": 1, "base_channels": 8}
    plain = _seeded("", small)
    two = _seeded("two_scale_d", small)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    for d, same in zip(two.discriminators, plain.discriminators, strict=True):
        assert isinstance(d, multiscale.TwoScaleDiscriminator)
        assert d.get_config() == same.get_config()  # norm-free, the recipe's layout
        with torch.no_grad():
            scores = d(x)
            assert scores.shape == (2, 2, 6, 6)
            assert torch.equal(scores[:, :1], same(x))  # the fine scale is the recipe's D
            half = torch.nn.functional.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            coarse = d.coarse(half)  # (2, 1, 2, 2), each score repeated over 3x3 fine ones
            assert coarse.shape == (2, 1, 2, 2)
            torch.testing.assert_close(scores[:, 1:].mean(dim=(2, 3)), coarse.mean(dim=(2, 3)))
            assert torch.equal(scores[:, 1:, :3, 3:], coarse[:, :, :1, 1:].expand(2, 1, 3, 3))
    optimised = sum(p.numel() for p in two.d_x.parameters())
    assert optimised == 2 * sum(p.numel() for p in plain.d_x.parameters())
    with pytest.raises(ValueError, match="do not tile the fine ones 7x7"):
        two.d_x(torch.zeros(1, 3, 72, 72))


def test_label_smoothing_aims_only_the_discriminators_real_scores_at_0_9() -> None:
    import torch

    from _tiny import tiny_model
    from unpaired_i2i import TrainConfig

    name = "ref+ema_p2+residual+no_identity+d_no_norm+label_smoothing"
    cls = bench.trainer_class(name)
    assert cls is catalogue.prototype("lsgan_targets").SmoothedLabelsTrainer
    trainer = cls(tiny_model(0), TrainConfig(), device="cpu")
    scores = torch.tensor([0.9, 1.0, 0.0, 2.0])
    d_real = trainer._gan(scores, True, for_discriminator=True).item()
    assert d_real == pytest.approx((0 + 0.01 + 0.81 + 1.21) / 4)
    d_fake = trainer._gan(scores, False, for_discriminator=True).item()
    assert d_fake == pytest.approx((0.81 + 1 + 0 + 4) / 4)
    g_real = trainer._gan(scores, True, for_discriminator=False).item()
    assert g_real == pytest.approx((0.01 + 0 + 1 + 1) / 4)  # the generators still aim at 1
    hinge = cls(tiny_model(0), TrainConfig(gan_mode="hinge"), device="cpu")
    with pytest.raises(ValueError, match="expected gan_mode='lsgan'"):
        hinge._gan(scores, True, for_discriminator=True)


def _fits_two_steps(trainer_class: Any, *, size: int) -> None:
    """A prototype trainer on the tiny model takes two steps of ``fit`` from scratch."""
    from _tiny import random_batches, tiny_model
    from unpaired_i2i import TrainConfig

    fresh = trainer_class(tiny_model(0), TrainConfig(pool_size=0), device="cpu")
    fresh.fit(random_batches(1, size=size, batch_size=1), max_steps=2)
    assert fresh.state.step == 2


def test_instance_noise_falls_from_sigma_to_zero_over_the_run() -> None:
    import torch

    from _tiny import tiny_model
    from unpaired_i2i import TrainConfig

    noise = catalogue.prototype("instance_noise")
    name = "ref+ema_p2+residual+no_identity+d_no_norm+instance_noise"
    assert bench.trainer_class(name) is noise.InstanceNoiseTrainer
    trainer = noise.InstanceNoiseTrainer(tiny_model(0), TrainConfig(), device="cpu")
    with pytest.raises(ValueError, match=r"expected fit\(max_steps=N\)"):
        trainer.sigma()
    trainer.state.max_steps = 4
    images = torch.zeros(2, 3, 64, 64)
    torch.manual_seed(0)
    seen = trainer._augment(images)
    assert trainer.sigma() == noise.SIGMA == 0.1
    assert float(seen.std()) == pytest.approx(0.1, rel=0.05)
    trainer.state.step = 3
    assert trainer.sigma() == pytest.approx(0.025)
    trainer.state.step = 4
    assert trainer.sigma() == 0.0 and torch.equal(trainer._augment(images), images)
    _fits_two_steps(noise.InstanceNoiseTrainer, size=8)


def test_feature_matching_adds_the_distance_of_the_fakes_feature_means_to_the_reals() -> None:
    import torch

    from _tiny import tiny_model
    from unpaired_i2i import ConvDiscriminator, CycleTrainer, TrainConfig

    fm = catalogue.prototype("feature_matching")
    name = "ref+ema_p2+residual+no_identity+d_no_norm+feature_matching"
    assert bench.trainer_class(name) is fm.FeatureMatchingTrainer
    model = tiny_model(0)
    trainer = fm.FeatureMatchingTrainer(model, TrainConfig(), device="cpu")
    plain = CycleTrainer(model, TrainConfig(), device="cpu")
    d = model.d_y
    assert isinstance(d, ConvDiscriminator)
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    fake = (torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1).requires_grad_(True)
    means, scores = fm.feature_means(d, fake)
    assert torch.equal(scores, d(fake))
    assert len(means) == len(d.features) and all(m.dim() == 2 and len(m) == 2 for m in means)
    # a fake whose statistics are the real ones: the reference's term exactly
    same = trainer._adversarial_term(d, real, real)
    assert torch.equal(same, plain._adversarial_term(d, real, real))
    term = trainer._adversarial_term(d, fake, real)
    real_means, _ = fm.feature_means(d, real)
    expected = torch.stack(
        [(f - r).abs().mean() for f, r in zip(means, real_means, strict=True)]
    ).mean()
    base = plain._adversarial_term(d, fake, real)
    assert float((term - base).detach()) == pytest.approx(
        fm.WEIGHT * float(expected.detach()), rel=1e-5
    )
    assert float(expected.detach()) > 0
    term.backward()
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0
    with pytest.raises(TypeError, match="expected a ConvDiscriminator"):
        fm.feature_means(torch.nn.Identity(), real)
    _fits_two_steps(fm.FeatureMatchingTrainer, size=8)


def test_up_blur_filters_after_each_transposed_conv_and_removes_a_checkerboard() -> None:
    import torch

    from unpaired_i2i import ResnetGenerator

    blur = catalogue.prototype("blur")
    small = {"n_blocks": 1, "base_channels": 4}
    blurred = _seeded("up_blur", small)
    plain = _seeded("", small)
    kinds = [["ConvTranspose2d", "Blur", "InstanceNorm2d", "ReLU"]] * 2
    _assert_layers_rebuilt(blurred.generators, plain.generators, "decoder", kinds, 16)
    f = blur.Blur(2)
    assert torch.allclose(f(torch.full((1, 2, 6, 6), 0.3)), torch.full((1, 2, 6, 6), 0.3))
    board = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2 * 2.0 - 1  # +-1
    smooth = f(board.expand(1, 2, 8, 8))
    assert float(smooth[..., 1:-1, 1:-1].abs().max()) == 0.0  # interior: the pattern is gone
    with pytest.raises(ValueError, match=r"expected a \(N, 2, H, W\) tensor"):
        f(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="found none"):
        blur.add_up_blur(
            ResnetGenerator.from_preset(
                "cyclegan", base_channels=4, n_blocks=1, upsampling="resize_conv"
            )
        )


def test_spectrally_normalised_generators_train_and_average() -> None:
    import torch
    from torch import nn

    from _tiny import random_batches
    from unpaired_i2i import CycleTrainer

    name = "ref+ema_p2+residual+no_identity+d_no_norm+g_spectral_norm"
    spec = bench.candidates()[name](0, {"n_blocks": 1, "base_channels": 4})
    for net in spec.model.generators:
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
        assert convs and all(hasattr(m, "parametrizations") for m in convs)
        for conv in convs:  # the largest singular value of the weight as used: 1
            for _ in range(30):  # the power iteration converges with more calls
                conv(torch.zeros(1, conv.in_channels, 8, 8))
            w = conv.weight.detach()
            matrix = (w.transpose(0, 1) if isinstance(conv, nn.ConvTranspose2d) else w).flatten(1)
            assert float(torch.linalg.matrix_norm(matrix, ord=2)) == pytest.approx(1.0, rel=0.2)
    assert not any(hasattr(m, "parametrizations") for m in spec.model.d_x.modules())
    trainer = CycleTrainer(spec.model, spec.config, callbacks=spec.callbacks, device="cpu")
    trainer.fit(random_batches(2, size=32, batch_size=1), max_steps=2)
    averaged = trainer.inference_generator("xy")
    assert averaged is not spec.model.g_xy
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        out = averaged(x)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_bcr_adds_the_discriminators_disagreement_with_themselves_on_moved_images() -> None:
    import torch

    from _tiny import tiny_model
    from unpaired_i2i import CycleTrainer, TrainConfig

    bcr = catalogue.prototype("consistency")
    assert bench.trainer_class("ref+ema_p2+residual+no_identity+d_no_norm+bcr") is (
        bcr.ConsistencyTrainer
    )
    model = tiny_model(0)
    trainer = bcr.ConsistencyTrainer(model, TrainConfig(), device="cpu")
    plain = CycleTrainer(model, TrainConfig(), device="cpu")
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    fake = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    d = model.d_y
    torch.manual_seed(1)
    loss = trainer.compute_discriminator_loss(d, real, fake)
    torch.manual_seed(1)
    moved = bcr.flip_and_shift(torch.cat([real, fake]))
    with torch.no_grad():
        diff = d(moved) - d(torch.cat([real, fake]))
    expected = bcr.WEIGHT * (diff[:2].pow(2).mean() + diff[2:].pow(2).mean())
    base = plain.compute_discriminator_loss(d, real, fake)
    assert float((loss - base).detach()) == pytest.approx(float(expected), rel=1e-4)
    assert float(expected) > 0
    # a discriminator blind to position and mirroring pays nothing: a constant one
    flat = torch.nn.Conv2d(3, 1, 1)
    torch.nn.init.zeros_(flat.weight)
    with torch.no_grad():
        extra = trainer.compute_discriminator_loss(flat, real, fake)
        extra = extra - plain.compute_discriminator_loss(flat, real, fake)
    assert float(extra) == 0.0
    shifted = bcr.flip_and_shift(real)
    assert shifted.shape == real.shape and not torch.equal(shifted, real)
    _fits_two_steps(bcr.ConsistencyTrainer, size=32)


def test_pixel_shuffle_starts_as_nearest_upsampling_of_the_recipes_kernel() -> None:
    import torch
    import torch.nn.functional as F
    from torch import nn

    from unpaired_i2i import ResnetGenerator

    ps = catalogue.prototype("pixel_shuffle")
    small = {"n_blocks": 1, "base_channels": 4}
    shuffled = _seeded("pixel_shuffle", small)
    plain = _seeded("", small)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    for net, same in zip(shuffled.generators, plain.generators, strict=True):
        ups = [layer.conv for layer in net.decoder]
        assert all(isinstance(up, ps.SubPixelUp) for up in ups) and len(ups) == 2
        for up, old in zip(ups, [layer.conv for layer in same.decoder], strict=True):
            assert isinstance(old, nn.ConvTranspose2d)
            h = torch.rand(1, old.in_channels, 5, 7)
            with torch.no_grad():  # ICNR: a conv of the recipe's kernel, then nearest upsampling
                kernel = old.weight.transpose(0, 1).flip(-2, -1)
                low = F.conv2d(F.pad(h, (1, 1, 1, 1), mode="reflect"), kernel, old.bias)
                expected = F.interpolate(low, scale_factor=2, mode="nearest")
                assert torch.allclose(up(h), expected, atol=1e-6)
        # every weight outside the upsampling layers is the recipe's draw
        mine = net.state_dict()
        for key, value in same.state_dict().items():
            if not key.startswith("decoder."):
                assert torch.equal(mine[key], value), key
        with torch.no_grad():
            assert net(x).shape == x.shape
    gen = torch.Generator().manual_seed(0)
    kernel = torch.randn(2, 3, 3, 3, generator=gen)
    icnr = ps.icnr_weight(kernel)
    assert icnr.shape == (8, 3, 3, 3) and torch.equal(icnr[4:8], kernel[1].expand(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"expected a \(C_out, C_in, k, k\) kernel"):
        ps.icnr_weight(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="3x3 stride-2 ConvTranspose2d"):
        ps.SubPixelUp.from_transposed(nn.ConvTranspose2d(2, 2, 4, stride=2))
    with pytest.raises(ValueError, match="found none"):
        ps.add_pixel_shuffle(
            ResnetGenerator.from_preset(
                "cyclegan", base_channels=4, n_blocks=1, upsampling="resize_conv"
            )
        )


def test_cycle_ssim_mixes_ssim_and_l1_in_the_cycle_terms() -> None:
    import torch

    from _tiny import tiny_model
    from unpaired_i2i import CycleTrainer, TrainConfig, ssim

    mix = catalogue.prototype("ssim_cycle")
    name = "ref+ema_p2+residual+no_identity+d_no_norm+cycle_ssim"
    assert bench.trainer_class(name) is mix.SSIMCycleTrainer
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1
    rec = (torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1).requires_grad_(True)
    assert float(mix.mixed_cycle_loss(real, real, 10.0)) == pytest.approx(0.0, abs=1e-6)
    loss = mix.mixed_cycle_loss(real, rec, 10.0)
    l1 = (rec - real).abs().mean()
    structure = 1 - ssim((rec + 1) / 2, (real + 1) / 2).mean()
    expected = 10.0 * (0.16 * l1 + 0.84 * structure)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    loss.backward()
    assert rec.grad is not None and float(rec.grad.abs().sum()) > 0
    # in the trainer: the cycle terms replaced, the adversarial ones and the total consistent
    model = tiny_model(0)
    config = TrainConfig(lambda_identity=0.0)
    trainer = mix.SSIMCycleTrainer(model, config, device="cpu")
    plain = CycleTrainer(model, config, device="cpu")
    x, y = (torch.rand(1, 3, 16, 16, generator=gen) * 2 - 1 for _ in range(2))
    with torch.no_grad():
        torch.manual_seed(0)
        outputs = plain.generator_forward(x, y)
        terms = trainer.compute_generator_loss(x, y, outputs)
        base = plain.compute_generator_loss(x, y, outputs)
    assert torch.equal(terms["g_adv_xy"], base["g_adv_xy"])
    assert float(terms["cycle_x"]) == pytest.approx(
        float(mix.mixed_cycle_loss(x, outputs["rec_x"], 10.0)), rel=1e-6
    )
    assert float(terms["cycle_x"]) != pytest.approx(float(base["cycle_x"]), rel=1e-3)
    parts = ("g_adv_xy", "g_adv_yx", "cycle_x", "cycle_y", "identity_x", "identity_y")
    assert float(terms["g_total"]) == pytest.approx(sum(float(terms[k]) for k in parts), rel=1e-6)
    _fits_two_steps(mix.SSIMCycleTrainer, size=16)


def test_mirror_consistency_adds_the_mirrored_translations_l1_to_the_generator_loss() -> None:
    import torch

    from _tiny import tiny_model
    from unpaired_i2i import CycleTrainer, TrainConfig

    mc = catalogue.prototype("mirror_consistency")
    name = "ref+ema_p2+residual+no_identity+d_no_norm+mirror_consistency"
    assert bench.trainer_class(name) is mc.MirrorConsistencyTrainer
    _assert_same_weights(
        _seeded("mirror_consistency", {"n_blocks": 1}), _seeded("", {"n_blocks": 1})
    )
    gen = torch.Generator().manual_seed(0)
    x, y = (torch.rand(1, 3, 16, 16, generator=gen) * 2 - 1 for _ in range(2))
    model = tiny_model(0)
    # a generator that commutes with the mirror has no term; one that does not, a positive one
    mirror_free = torch.nn.Identity()
    assert float(mc.mirror_consistency_loss(mirror_free, x, x, 2.0)) == 0.0
    with torch.no_grad():
        fake = model.g_xy(x)
        expected = 2.0 * (model.g_xy(x.flip(-1)) - fake.flip(-1)).abs().mean()
        assert float(expected) > 0
        got = mc.mirror_consistency_loss(model.g_xy, x, fake, 2.0)
    assert float(got) == pytest.approx(float(expected), rel=1e-6)
    config = TrainConfig(lambda_identity=0.0)
    trainer = mc.MirrorConsistencyTrainer(model, config, device="cpu")
    plain = CycleTrainer(model, config, device="cpu")
    with torch.no_grad():
        outputs = plain.generator_forward(x, y)
        terms = trainer.compute_generator_loss(x, y, outputs)
        base = plain.compute_generator_loss(x, y, outputs)
        both = mc.mirror_consistency_loss(model.g_xy, x, outputs["fake_y"], mc.LAMBDA_MIRROR)
        both = both + mc.mirror_consistency_loss(model.g_yx, y, outputs["fake_x"], 2.0)
    assert float(terms["mirror"]) == pytest.approx(float(both), rel=1e-6)
    assert float(terms["g_total"]) == pytest.approx(float(base["g_total"]) + float(both), rel=1e-6)
    # the term trains both calls: the gradient reaches the generator through the mirrored input
    fake = model.g_xy(x)
    model.g_xy.zero_grad()
    mc.mirror_consistency_loss(model.g_xy, x, fake.detach(), 2.0).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.g_xy.parameters())
    _fits_two_steps(mc.MirrorConsistencyTrainer, size=16)


def test_amsgrad_switches_both_optimisers_before_the_first_step() -> None:
    import torch

    from _tiny import random_batches, tiny_model
    from unpaired_i2i import CycleTrainer, TrainConfig

    ams = catalogue.prototype("amsgrad")
    assert bench.trainer_class("ref+ema_p2+residual+no_identity+d_no_norm+amsgrad") is (
        ams.AMSGradTrainer
    )
    trainer = ams.AMSGradTrainer(tiny_model(0), TrainConfig(pool_size=0), device="cpu")
    plain = CycleTrainer(tiny_model(0), TrainConfig(pool_size=0), device="cpu")
    for optimizer in (trainer.optimizer_g, trainer.optimizer_d):
        assert all(group["amsgrad"] for group in optimizer.param_groups)
    assert not any(group["amsgrad"] for group in plain.optimizer_g.param_groups)
    trainer.fit(random_batches(1, size=16, batch_size=1), max_steps=2)
    for optimizer in (trainer.optimizer_g, trainer.optimizer_d):
        state = optimizer.state_dict()
        assert state["param_groups"][0]["amsgrad"]  # what a checkpoint keeps
        for entry in state["state"].values():
            assert (entry["max_exp_avg_sq"] >= entry["exp_avg_sq"]).all()
    plain.fit(random_batches(1, size=16, batch_size=1), max_steps=1)
    with pytest.raises(RuntimeError, match="has not stepped yet"):
        ams.use_amsgrad(plain.optimizer_g)
    with pytest.raises(TypeError, match="expected a torch.optim.Adam; got SGD"):
        ams.use_amsgrad(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))


def test_cycle_decay_scales_the_cycle_terms_from_one_to_a_half_over_the_run() -> None:
    import torch

    from _tiny import tiny_model
    from unpaired_i2i import CycleTrainer, TrainConfig

    decay = catalogue.prototype("cycle_decay")
    name = "ref+ema_p2+residual+no_identity+d_no_norm+cycle_decay"
    assert bench.trainer_class(name) is decay.CycleDecayTrainer
    model = tiny_model(0)
    config = TrainConfig(lambda_identity=0.0)
    trainer = decay.CycleDecayTrainer(model, config, device="cpu")
    plain = CycleTrainer(model, config, device="cpu")
    with pytest.raises(ValueError, match=r"expected fit\(max_steps=N\)"):
        trainer.cycle_factor()
    trainer.state.max_steps = 1000
    factors = []
    for step in (0, 500, 1000):
        trainer.state.step = step
        factors.append(trainer.cycle_factor())
    assert factors == [1.0, 0.75, 0.5]
    gen = torch.Generator().manual_seed(0)
    x, y = (torch.rand(1, 3, 16, 16, generator=gen) * 2 - 1 for _ in range(2))
    trainer.state.step = 500
    with torch.no_grad():
        outputs = plain.generator_forward(x, y)
        terms = trainer.compute_generator_loss(x, y, outputs)
        base = plain.compute_generator_loss(x, y, outputs)
    for key in ("cycle_x", "cycle_y"):
        assert float(terms[key]) == pytest.approx(0.75 * float(base[key]), rel=1e-6)
    assert torch.equal(terms["g_adv_yx"], base["g_adv_yx"])
    parts = ("g_adv_xy", "g_adv_yx", "cycle_x", "cycle_y", "identity_x", "identity_y")
    assert float(terms["g_total"]) == pytest.approx(sum(float(terms[k]) for k in parts), rel=1e-6)
    _fits_two_steps(decay.CycleDecayTrainer, size=16)


def test_optimistic_step_moves_the_weights_by_twice_the_step_minus_the_previous_one() -> None:
    import torch

    from _tiny import random_batches

    optimism = catalogue.prototype("optimism")
    batches = random_batches(1, size=8, batch_size=1)  # 2 epochs of 1 step
    one = _tiny_trainer([])
    start = [p.detach().clone() for p in one.model.parameters()]
    one.fit(batches, max_steps=1)
    after_one = [p.detach().clone() for p in one.model.parameters()]
    two = _tiny_trainer([])
    two.fit(batches)  # Adam's two steps
    optimistic = _tiny_trainer([optimism.OptimisticStep()])
    optimistic.fit(batches, max_steps=1)  # the first move is Adam's own
    _assert_same_weights(one.model, optimistic.model)
    optimistic.fit(batches)  # then w2 + (w2 - w1) - (w1 - w0)
    moved = 0
    for w, w2, w1, w0 in zip(
        optimistic.model.parameters(), two.model.parameters(), after_one, start, strict=True
    ):
        expected = w2 + (w2 - w1) - (w1 - w0)
        torch.testing.assert_close(w.detach(), expected, rtol=0, atol=1e-6)
        moved += not torch.allclose(expected, w2)
    assert moved > 10
    name = "ref+ema_p2+residual+no_identity+d_no_norm+optimism"
    callbacks = bench.candidates()[name](0, {"n_blocks": 1, "base_channels": 4}).callbacks
    assert [type(c).__name__ for c in callbacks] == ["OptimisticStep", "EMA"]


def test_optimistic_step_resumes_exactly_from_a_checkpoint(tmp_path: Path) -> None:
    from _tiny import Crash, random_batches
    from unpaired_i2i import ModelCheckpoint

    optimism = catalogue.prototype("optimism")
    batches = random_batches(7, size=8, batch_size=1)
    straight = _tiny_trainer([optimism.OptimisticStep()])
    straight.fit(batches)
    first = _tiny_trainer(
        [optimism.OptimisticStep(), ModelCheckpoint(tmp_path, every_n_steps=4), Crash(5)]
    )
    with pytest.raises(RuntimeError, match="simulated crash"):
        first.fit(batches)
    resumed = _tiny_trainer(
        [optimism.OptimisticStep(), ModelCheckpoint(tmp_path, every_n_steps=4)], model_seed=9
    )
    resumed.load_checkpoint(tmp_path / "step-00000004.pt")
    resumed.fit(batches)
    assert resumed.state.step == straight.state.step == 14
    _assert_same_weights(straight.model, resumed.model)


def test_zclip_clips_a_norm_above_mean_plus_threshold_std_and_keeps_its_statistics() -> None:
    zclip = catalogue.prototype("zclip")
    clip = zclip.ZClip(alpha=0.5, threshold=2.0, warmup=4)
    assert [clip.limit(n) for n in (1.0, 3.0, 1.0, 3.0)] == [None] * 4  # warm-up: measured
    assert (clip.mean, clip.var) == (2.0, 1.0)
    assert clip.limit(3.5) is None  # z = 1.5: kept, and averaged in
    assert (clip.mean, clip.var) == (2.75, 0.5 * 1.0 + 0.5 * 0.75**2)
    bound = 2.75 + 2.0 * (0.5 + 0.5 * 0.75**2) ** 0.5
    assert clip.limit(100.0) == pytest.approx(bound)  # a spike: clipped to the bound
    assert clip.clipped == 1
    assert clip.mean == pytest.approx(0.5 * 2.75 + 0.5 * bound)  # the clipped norm averaged in
    copy = zclip.ZClip(alpha=0.5, threshold=2.0, warmup=4)
    copy.load_state_dict(clip.state_dict())
    assert copy.state_dict() == clip.state_dict()
    for bad, match in (
        ({"alpha": 1.0}, "alpha: expected a float in"),
        ({"threshold": 0.0}, "threshold: expected a float > 0"),
        ({"warmup": 0}, "warmup: expected an int >= 1"),
    ):
        with pytest.raises(ValueError, match=match):
            zclip.ZClip(**bad)


def test_zclip_trainer_scales_a_spiking_gradient_to_the_bound_before_adam_steps() -> None:
    import torch

    from _tiny import tiny_model
    from unpaired_i2i import TrainConfig

    zclip = catalogue.prototype("zclip")
    name = "ref+ema_p2+residual+no_identity+d_no_norm+zclip"
    assert bench.trainer_class(name) is zclip.ZClipTrainer
    trainer = zclip.ZClipTrainer(tiny_model(0), TrainConfig(pool_size=0), device="cpu")
    assert trainer.callbacks[-1] is trainer.zclip_state  # its statistics go into checkpoints
    g = trainer.zclip_state.zclips["g"]
    g.seen, g.mean, g.var = [1.0] * g.warmup, 1.0, 0.01  # bound 1.25
    params = [p for group in trainer.optimizer_g.param_groups for p in group["params"]]
    seen: list[float] = []

    def record(*_: object) -> None:
        seen.append(float(torch.nn.utils.get_total_norm([p.grad for p in params])))

    trainer.optimizer_g.register_step_pre_hook(record)
    loss = 1000.0 * sum(p.square().sum() for p in params)
    trainer._backward_and_step(loss, trainer.optimizer_g)
    assert seen == [pytest.approx(1.25, rel=1e-5)]
    assert g.clipped == 1
    _fits_two_steps(zclip.ZClipTrainer, size=16)


def test_d_first_steps_the_discriminators_as_the_reference_then_the_generators_against_them() -> (
    None
):
    import copy

    import torch

    from _tiny import tiny_model
    from unpaired_i2i import CycleTrainer, TrainConfig

    d_first = catalogue.prototype("d_first")
    name = "ref+ema_p2+residual+no_identity+d_no_norm+d_first"
    assert bench.trainer_class(name) is d_first.DFirstTrainer
    config = TrainConfig(pool_size=0, lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    x, y = (torch.rand(1, 3, 16, 16, generator=gen) * 2 - 1 for _ in range(2))
    start = tiny_model(0)
    plain = CycleTrainer(copy.deepcopy(start), config, device="cpu")
    swapped = d_first.DFirstTrainer(copy.deepcopy(start), config, device="cpu")
    plain.train_step(x, y)
    losses = swapped.train_step(x, y)
    # the discriminators: the same fakes (made before the generators' update), the same step
    for a, b in zip(plain.model.discriminators, swapped.model.discriminators, strict=True):
        _assert_same_weights(a, b)
    # the generators: one reference generator step, but against the updated discriminators
    later = copy.deepcopy(start)
    for net, updated in zip(later.discriminators, swapped.model.discriminators, strict=True):
        net.load_state_dict(updated.state_dict())
    g_only = CycleTrainer(later, config, device="cpu")
    g_only._generator_step(x, y)
    for a, b in zip(g_only.model.generators, swapped.model.generators, strict=True):
        _assert_same_weights(a, b)
    differ = [
        not torch.equal(p, q)
        for p, q in zip(plain.model.g_xy.parameters(), swapped.model.g_xy.parameters(), strict=True)
    ]
    assert any(differ)  # unlike the reference order's
    assert set(losses) == set(plain.train_step(x, y))
    with pytest.raises(ValueError, match="expected amp other than 'fp16' and compile=False"):
        d_first.DFirstTrainer(tiny_model(0), TrainConfig(compile=True), device="cpu")
    _fits_two_steps(d_first.DFirstTrainer, size=16)


def test_lr_warmup_scales_the_schedules_rates_up_linearly_then_leaves_them() -> None:
    from _tiny import random_batches
    from unpaired_i2i import Callback

    warm = catalogue.prototype("lr_warmup")
    assert [warm.LinearWarmup(4).factor(s) for s in (0, 1, 3, 9)] == [0.25, 0.5, 1.0, 1.0]
    seen: list[tuple[float, float]] = []

    class Record(Callback):
        def on_step_start(self, trainer: Any, batch: Any) -> None:
            g_rate = trainer.optimizer_g.param_groups[0]["lr"]
            seen.append((g_rate, trainer.optimizer_d.param_groups[0]["lr"]))

    trainer = _tiny_trainer([warm.LinearWarmup(4), Record()])
    trainer.fit(random_batches(3, size=8, batch_size=1), max_steps=5)
    # lr=1e-3, epochs=1 then decay_epochs=1: the schedule is 1 in epoch 0, 0.5 in epoch 1
    expected = [1e-3 * f for f in (0.25, 0.5, 0.75, 0.5, 0.5)]
    assert [g for g, _ in seen] == pytest.approx(expected)
    assert [d for _, d in seen] == pytest.approx(expected)
    name = "ref+ema_p2+residual+no_identity+d_no_norm+lr_warmup"
    callbacks = bench.candidates()[name](0, {"n_blocks": 1, "base_channels": 4}).callbacks
    assert [type(c).__name__ for c in callbacks] == ["LinearWarmup", "EMA"]
    with pytest.raises(ValueError, match="steps: expected an int >= 1, got 0"):
        warm.LinearWarmup(0)


def test_down_blur_filters_before_each_stride_two_conv_in_generators_and_discriminators() -> None:
    import torch

    blur = catalogue.prototype("blur")
    small = {"n_blocks": 1, "base_channels": 4}
    plain = _seeded("", small)
    g_blurred = _seeded("down_blur", small)
    kinds = [["Blur", "Conv2d", "InstanceNorm2d", "ReLU"]] * 2
    _assert_layers_rebuilt(g_blurred.generators, plain.generators, "encoder", kinds, 16)
    d_blurred = _seeded("d_blur", small)
    # the three stride-2 layers filtered (norm-free: conv and activation), the last not
    kinds = [["Blur", "Conv2d", "LeakyReLU"]] * 3 + [["Conv2d", "LeakyReLU"]]
    _assert_layers_rebuilt(d_blurred.discriminators, plain.discriminators, "features", kinds, 32)
    # the generators are untouched by the discriminators' filter and the other way round
    _assert_same_weights(d_blurred, plain)
    assert all(
        not any(isinstance(m, blur.Blur) for m in net.modules())
        for net in (*d_blurred.generators, *g_blurred.discriminators)
    )
    with pytest.raises(TypeError, match="expected an nn.Sequential"):
        blur.add_down_blur(torch.nn.Identity())
    with pytest.raises(ValueError, match="found none"):
        blur.add_down_blur(torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3)))


def test_unet_skips_start_as_the_recipe_and_open_with_training() -> None:
    import copy

    import torch

    from unpaired_i2i import ResnetGenerator

    skips = catalogue.prototype("unet_skips")
    small = {"n_blocks": 1, "base_channels": 4}
    plain = _seeded("", small)
    joined = _seeded("unet_skips", small)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    for net, same in zip(joined.generators, plain.generators, strict=True):
        old = same.state_dict()
        new = net.state_dict()
        assert set(new) - set(old) == {"decoder.gammas.0", "decoder.gammas.1"}
        assert all(torch.equal(new[k], v) for k, v in old.items())
        # gamma 0: the recipe's generator, bit for bit, and a gradient that opens the skips
        assert torch.equal(net(x), same(x))
        net(x).square().mean().backward()
        assert all(float(g.grad.abs()) > 0 for g in net.decoder.gammas)
        with torch.no_grad():
            net.decoder.gammas[1].fill_(0.5)
        assert not torch.equal(net(x), same(x))
        # a deep copy (the EMA's) shares its own taps between its encoder and decoder
        twin = copy.deepcopy(net)
        assert twin.encoder.taps is twin.decoder.taps and twin.encoder.taps is not net.encoder.taps
        assert torch.equal(twin(x), net(x))
    with pytest.raises(RuntimeError, match="expected 2 encoder taps"):
        joined.generators[0].decoder(torch.zeros(1, 16, 4, 4))
    odd = ResnetGenerator.from_preset("cyclegan", base_channels=4, n_blocks=1)
    odd.decoder = odd.decoder[:1]
    with pytest.raises(ValueError, match="as many decoder layers as encoder layers"):
        skips.add_unet_skips(odd)
    # the candidate trains with its EMA: the skips open and the average has its own taps
    from _tiny import random_batches
    from unpaired_i2i import CycleTrainer

    spec = bench.candidates()["ref+ema_p2+residual+no_identity+d_no_norm+unet_skips"](0, small)
    trainer = CycleTrainer(spec.model, spec.config, callbacks=spec.callbacks, device="cpu")
    trainer.fit(random_batches(2, size=32, batch_size=1), max_steps=2)
    trained = spec.model.g_xy.get_submodule("decoder")
    assert isinstance(trained, skips.SkipDecoder)
    assert all(float(g.detach().abs()) > 0 for g in trained.gammas)
    averaged = trainer.inference_generator("xy")
    encoder, decoder = averaged.get_submodule("encoder"), averaged.get_submodule("decoder")
    assert isinstance(encoder, skips.TapEncoder) and isinstance(decoder, skips.SkipDecoder)
    assert averaged is not spec.model.g_xy and encoder.taps is decoder.taps
    assert encoder.taps is not trained.taps
    with torch.no_grad():
        out = averaged(x)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_local_affine_candidate_is_the_recipe_with_the_librarys_colour_matrix() -> None:
    import torch

    small = {"n_blocks": 1, "base_channels": 4}
    plain = _seeded("", small)
    mixed = _seeded("local_affine", small)
    for net, same in zip(mixed.generators, plain.generators, strict=True):
        assert net.local_affine and not same.local_affine
        assert net.get_config() == {**same.get_config(), "local_affine": True}
        x = torch.rand(2, 3, 16, 16) * 2 - 1
        assert torch.equal(net(x), same(x))  # the matrix starts at zero, nothing else drawn


def test_detail_affine_candidate_is_the_recipe_with_the_librarys_detail_matrix() -> None:
    import torch

    small = {"n_blocks": 1, "base_channels": 4}
    full = _seeded("local_affine", small)
    detail = _seeded("detail_affine", small)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    for net, same in zip(detail.generators, full.generators, strict=True):
        assert net.get_config() == {**same.get_config(), "local_affine_detail": 7}
        _assert_same_weights(net, same)
        assert torch.equal(net(x), same(x))  # M starts at zero: local_affine's start


def test_improved_candidate_is_the_detail_affine_candidate_and_its_noise_form_adds_noise() -> None:
    """Since 2026-12-05 ``"improved"`` builds the runs of the detail form averaged with power 8,
    whose trajectories are the power-2 form's: only the average's warm-up differs."""
    from unpaired_i2i import EMA

    small = {"n_blocks": 1, "base_channels": 4}
    detail = "ref+ema_p2+residual+no_identity+d_no_norm+detail_affine"
    improved = _seeded_spec("improved", small)
    power2 = _seeded_spec(detail, small)
    power8 = _seeded_spec("ref+ema+residual+no_identity+d_no_norm+detail_affine", small)
    for spec, power in ((power2, 2.0), (power8, 8.0)):
        assert improved.config == spec.config
        assert improved.model.get_config() == spec.model.get_config()
        _assert_same_weights(improved.model, spec.model)
        (ema,) = spec.callbacks
        assert isinstance(ema, EMA) and ema.warmup_power == power
    assert [repr(c) for c in improved.callbacks] == [repr(c) for c in power8.callbacks]
    noisy = _seeded_spec(detail + "+cycle_noise0.05", small)
    _assert_same_weights(noisy.model, power2.model)
    assert noisy.config == dataclasses.replace(power2.config, cycle_noise=0.05)


def test_run_probe_reads_a_stuck_or_training_gan_from_its_networks() -> None:
    import torch

    from unpaired_i2i import CycleTrainer

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "run_probe.py"
    spec = importlib.util.spec_from_file_location("_run_probe_benchmark", path)
    assert spec is not None and spec.loader is not None
    run_probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_probe)
    small = {"n_blocks": 1, "base_channels": 4}
    torch.manual_seed(0)
    pairs = [(torch.rand(3, 32, 32) * 2 - 1, torch.rand(3, 32, 32) * 2 - 1) for _ in range(4)]
    xs, ys = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    for suffix in ("", "local_affine", "detail_affine"):
        model = _seeded(suffix, small)
        name = "ref+ema_p2+residual+no_identity+d_no_norm" + (f"+{suffix}" if suffix else "")
        config = bench.candidates()[name](0, small).config
        trainer = CycleTrainer(model, config, device="cpu")
        figures, grid = run_probe.probe(trainer, pairs, pairs, n_train=4, n_test=2)
        assert grid.shape == (8, 3, 32, 32) and torch.equal(grid[:2], xs[:2])
        with torch.no_grad():
            fake = model.g_xy(xs)
            d_fake = model.d_y(fake)
            cycle = (model.g_yx(fake) - xs).abs().mean()
        assert figures["change_xy"] == pytest.approx(float((fake - xs).abs().mean()), rel=1e-5)
        assert figures["d_y_fake"] == pytest.approx(float(d_fake.mean()), rel=1e-4)
        assert figures["g_xy_adv"] == pytest.approx(float((d_fake - 1).square().mean()), rel=1e-4)
        assert figures["cycle_x"] == pytest.approx(float(cycle), rel=1e-5)
        assert figures["test_l1_xy"] == pytest.approx(
            float((fake[:2] - ys[:2]).abs().mean()), rel=1e-5
        )
        # an untrained matrix is zero: r carries all of the change
        assert ("m_abs" in figures) == bool(suffix)
        if suffix:
            assert figures["m_abs"] == 0 and figures["mx_abs"] == 0 and figures["r_abs"] > 0


def test_half_history_scores_the_newest_translation_beside_the_pools_pick() -> None:
    import torch

    from _tiny import tiny_model
    from unpaired_i2i import TrainConfig

    history = catalogue.prototype("half_history")
    name = "ref+ema_p2+residual+no_identity+d_no_norm+half_history"
    assert bench.trainer_class(name) is history.HalfHistoryTrainer
    trainer = history.HalfHistoryTrainer(tiny_model(0), TrainConfig(pool_size=1), device="cpu")
    seen: list[torch.Tensor] = []
    score = trainer.compute_discriminator_loss

    def record(discriminator: Any, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        seen.append(fake.clone())
        loss: torch.Tensor = score(discriminator, real, fake)
        return loss

    trainer.compute_discriminator_loss = record
    x, y = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    firsts = []
    for _ in range(6):
        seen.clear()
        with torch.no_grad():
            newest = trainer.model.g_xy(x)  # the weights the step's translation comes from
        trainer.train_step(x, y)
        fake_y = seen[0]
        assert fake_y.shape == (2, 3, 32, 32)
        assert torch.allclose(fake_y[:1], newest, atol=1e-6)  # the newest always first
        firsts.append(torch.equal(fake_y[0], fake_y[1]))
    # the one-image pool: the first query returns the newest, later ones an old image at times
    # (the pool's draws are seeded from the config's seed: the same every run)
    assert firsts[0] and not all(firsts)
    _fits_two_steps(history.HalfHistoryTrainer, size=32)


def test_r3gan_adds_r2_on_the_fakes_with_r1s_gamma() -> None:
    import torch

    from _tiny import random_batches, tiny_model
    from unpaired_i2i import CycleTrainer, TrainConfig, r1_penalty

    r2 = catalogue.prototype("r2")
    name = "ref+ema_p2+residual+no_identity+d_no_norm+r3gan"
    assert bench.trainer_class(name) is r2.R2Trainer
    config = bench.candidates()[name](0, {"n_blocks": 1, "base_channels": 4}).config
    assert (config.gan_mode, config.relativistic, config.r1_gamma) == ("vanilla", True, 1.0)
    over: dict[str, Any] = {
        "gan_mode": "vanilla",
        "relativistic": True,
        "r1_gamma": 2.0,
        "pool_size": 0,
    }
    with_r2 = r2.R2Trainer(tiny_model(0), TrainConfig(**over), device="cpu")
    without = CycleTrainer(tiny_model(0), TrainConfig(**over), device="cpu")
    d = with_r2.model.d_y
    real, fake = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    leaf = fake.clone().requires_grad_(True)
    r2_term = 0.5 * 2.0 * r1_penalty(d(leaf), leaf)
    assert float(r2_term.detach()) > 0
    expected = without.compute_discriminator_loss(without.model.d_y, real, fake) + r2_term
    got = with_r2.compute_discriminator_loss(d, real, fake)
    assert torch.allclose(got, expected, rtol=1e-5)
    assert not fake.requires_grad  # the pool's batch is left as it was
    got.backward()
    assert all(p.grad is not None for p in d.parameters())
    with pytest.raises(ValueError, match="expected r1_gamma > 0"):
        r2.R2Trainer(tiny_model(0), TrainConfig(), device="cpu")
    fresh = r2.R2Trainer(tiny_model(0), TrainConfig(**over), device="cpu")
    fresh.fit(random_batches(1, size=32, batch_size=1), max_steps=2)
    assert fresh.state.step == 2


def test_demo_shadows_trains_the_demo_with_a_prototypes_trainer(tmp_path: Path) -> None:
    import csv
    import json
    import os
    import subprocess

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "demo_shadows.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def demo(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *options],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )

    out = tmp_path / "demo"
    done = demo(
        "--seed", "0", "--prototype", "mirror_consistency", "--powers", "1", "--out", str(out),
        "--", "--max-steps", "1", "--log-every", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["prototype"] == "mirror_consistency"
    assert set(report["shadows_test_l1"]) == {"ema0.999_p1"}
    with (out / "metrics.csv").open() as f:
        row = next(csv.DictReader(f))
    logged = ("g_adv_xy", "g_adv_yx", "cycle_x", "cycle_y", "identity_x", "identity_y")
    # the generator's total holds the mirror term, which CycleTrainer's loss does not have
    assert float(row["g_total"]) > sum(float(row[k]) for k in logged) + 1e-3

    bad = demo("--prototype", "nope", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2
    assert "--prototype must be one of" in bad.stderr and "'nope'" in bad.stderr


def test_flip_ensemble_prints_each_split_scored_alone_and_as_the_mirror_ensemble(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import torch

    from unpaired_i2i import evaluate_paired

    torch.manual_seed(0)
    generator = bench.candidates()["improved"](0, {"n_blocks": 1, "base_channels": 4}).model.g_xy
    generator.eval()
    run = record("improved", 0, 0.2, 0.2, flags=("avx2",)) | {
        "generator": bench._generator_record(generator)
    }
    run["n_blocks"] = 1
    (tmp_path / "runs.jsonl").write_text(json.dumps(run) + "\n")
    saved = bench.weights_path(tmp_path, "improved", 0, "64/b1/w4", 1, "AMD EPYC/avx2")
    saved.parent.mkdir()
    torch.save(generator.state_dict(), saved)
    flip = catalogue.prototype("flip_ensemble")
    options = ["--candidate", "improved", "--seeds", "0", "--out", str(tmp_path)]
    flip.main([*options, "--n-blocks", "1", "--width", "4", "--threads", "1"])
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    _, val, test = bench._season_data(tmp_path / "data", 64)
    assert [row[1] for row in rows] == ["validation", "test"]
    for row, data in zip(rows, (val, test), strict=True):
        alone = evaluate_paired(generator, data)["l1"]
        both = evaluate_paired(generator, data, self_ensemble=True)["l1"]
        assert abs(alone - both) > 1e-4  # an untrained generator is not mirror-symmetric
        assert row[2:4] == [f"{alone:.4f}", f"{both:.4f}"]


def test_error_parts_splits_the_paired_l1_into_colour_and_structure() -> None:
    import torch
    from error_parts import error_parts  # benchmarks/, on the path since recipes.py loaded

    torch.manual_seed(0)
    images = [torch.rand(3, 8, 8) * 1.6 - 0.8 for _ in range(4)]
    pairs = [(y, y) for y in images]  # each input is its target

    class Shift(torch.nn.Module):
        """Adds ``offset`` (a (3, H, W) tensor) to its input."""

        def __init__(self, offset: torch.Tensor) -> None:
            super().__init__()
            self.offset = offset

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.offset

    # a colour cast only: every pixel moved by the channel's constant
    cast = torch.tensor([0.1, -0.2, 0.3]).view(3, 1, 1).expand(3, 8, 8)
    parts = error_parts(Shift(cast), pairs)
    assert parts["n"] == 4 and len(parts["worst"]) == 3
    assert parts["l1"] == pytest.approx(0.2) and parts["colour"] == pytest.approx(0.2)
    assert parts["structure"] == pytest.approx(0.0, abs=1e-6)
    # structure only: a checkerboard of +-0.1 has every channel's mean at zero
    board = (torch.arange(8).view(8, 1) + torch.arange(8)) % 2 * 0.2 - 0.1
    parts = error_parts(Shift(board.expand(3, 8, 8)), pairs)
    assert parts["colour"] == pytest.approx(0.0, abs=1e-6)
    assert parts["l1"] == pytest.approx(0.1) and parts["structure"] == pytest.approx(0.1)
    # the generator's mode is put back
    identity = torch.nn.Identity().train()
    assert error_parts(identity, pairs)["l1"] == 0.0 and identity.training
    with pytest.raises(ValueError, match="at least one"):
        error_parts(identity, [])
    with pytest.raises(ValueError, match=r"target's shape \(3, 8, 8\), got \(3, 4, 4\)"):
        error_parts(Shift(torch.zeros(3, 4, 4)), [(torch.zeros(3, 4, 4), torch.zeros(3, 8, 8))])


def test_validation_probe_scores_the_trained_generator_without_changing_the_run() -> None:
    import torch
    from validation_probe import ValidationProbe  # benchmarks/, on the path since recipes.py

    from _tiny import random_batches
    from unpaired_i2i import evaluate_paired

    torch.manual_seed(1)
    pairs = [(torch.rand(3, 16, 16) * 2 - 1, torch.rand(3, 16, 16) * 2 - 1) for _ in range(3)]
    batches = random_batches(2, size=8, batch_size=1)  # 2 epochs of 2 steps
    probe = ValidationProbe(pairs, every=2, echo=False)
    probed = _tiny_trainer([probe])
    probed.fit(batches)
    plain = _tiny_trainer([])
    plain.fit(batches)
    # the probe draws nothing and leaves every weight as the run without it has it
    for a, b in zip(probed.model.parameters(), plain.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert probed.model.training and [s for s, _ in probe.history] == [2, 4]
    assert probe.history[-1][1] == evaluate_paired(plain.model.g_xy, pairs)["l1"]
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="every: expected an int >= 1"):
            ValidationProbe(pairs, every=bad)  # type: ignore[arg-type]
