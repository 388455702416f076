"""Loading generators saved by the reference implementation.

The reference layout is rebuilt here from its published description (one ``nn.Sequential``
named ``model``; residual blocks hold an ``nn.Sequential`` named ``conv_block``), so its
``state_dict`` has exactly the reference's keys.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from unpaired_i2i import ResnetGenerator


class RefBlock(nn.Module):
    def __init__(self, dim: int, *, padding: str, norm: str, dropout: bool) -> None:
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = []
        for second in (False, True):
            p = 0
            if padding == "reflect":
                layers.append(nn.ReflectionPad2d(1))
            elif padding == "replicate":
                layers.append(nn.ReplicationPad2d(1))
            else:
                p = 1
            layers.append(nn.Conv2d(dim, dim, 3, padding=p, bias=bias))
            layers.append(ref_norm(norm, dim))
            if not second:
                layers.append(nn.ReLU(True))
                if dropout:
                    layers.append(nn.Dropout(0.5))
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x + self.conv_block(x)
        return out


def ref_norm(norm: str, c: int) -> nn.Module:
    if norm == "instance":
        return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    return nn.BatchNorm2d(c, affine=True, track_running_stats=True)


class RefGenerator(nn.Module):
    def __init__(
        self,
        ngf: int,
        n_blocks: int,
        *,
        norm: str = "instance",
        padding: str = "reflect",
        dropout: bool = False,
    ) -> None:
        super().__init__()
        bias = norm == "instance"
        m: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(3, ngf, 7, bias=bias),
            ref_norm(norm, ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            m += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                ref_norm(norm, ngf * mult * 2),
                nn.ReLU(True),
            ]
        for _ in range(n_blocks):
            m.append(RefBlock(ngf * 4, padding=padding, norm=norm, dropout=dropout))
        for i in range(2):
            mult = 2 ** (2 - i)
            m += [
                nn.ConvTranspose2d(
                    ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1, bias=bias
                ),
                ref_norm(norm, ngf * mult // 2),
                nn.ReLU(True),
            ]
        m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(x)
        return out


def randomize(module: nn.Module) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.1)
        for name, b in module.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                b.normal_(0, 0.1)


def test_resnet_9blocks_keys_match_published_layout() -> None:
    keys = list(RefGenerator(64, 9).state_dict())
    assert keys[0] == "model.1.weight" and keys[-1] == "model.26.bias"
    assert "model.10.conv_block.1.weight" in keys and "model.18.conv_block.5.bias" in keys
    assert "model.10.conv_block.6.weight" in RefGenerator(8, 9, dropout=True).state_dict()


@pytest.mark.parametrize(
    ("norm", "padding", "dropout"),
    [
        ("instance", "reflect", False),
        ("instance", "reflect", True),
        ("batch", "zero", True),
        ("instance", "replicate", False),
        ("batch", "reflect", False),
    ],
)
def test_load_reference_state_dict_reproduces_reference_outputs(
    norm: str, padding: str, dropout: bool
) -> None:
    torch.manual_seed(0)
    ref = RefGenerator(8, 3, norm=norm, padding=padding, dropout=dropout)
    randomize(ref)
    ours = ResnetGenerator.from_preset(
        "cyclegan",
        base_channels=8,
        n_blocks=3,
        norm=norm,
        padding=padding,
        dropout=0.5 if dropout else 0.0,
    )
    ours.load_reference_state_dict(ref.state_dict())
    ref.eval()
    ours.eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-6)


def test_stale_instance_norm_keys_and_module_prefix_are_handled(tmp_path: Path) -> None:
    ref = RefGenerator(8, 2)
    randomize(ref)
    sd = {f"module.{k}": v for k, v in ref.state_dict().items()}
    # Old PyTorch versions saved running statistics for InstanceNorm layers.
    sd["module.model.2.running_mean"] = torch.zeros(8)
    sd["module.model.2.running_var"] = torch.ones(8)
    sd["module.model.10.conv_block.2.running_mean"] = torch.zeros(32)
    sd["module.model.10.conv_block.2.num_batches_tracked"] = torch.tensor(3)
    path = tmp_path / "summer2winter_yosemite.pth"
    torch.save(sd, path)
    ours = ResnetGenerator.from_preset("cyclegan", base_channels=8, n_blocks=2)
    ours.load_reference_state_dict(path)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-6)


def test_unmatched_keys_are_listed() -> None:
    ref = RefGenerator(8, 2)
    sd = dict(ref.state_dict())
    sd["model.99.weight"] = torch.zeros(1)
    del sd["model.19.bias"]
    ours = ResnetGenerator.from_preset("cyclegan", base_channels=8, n_blocks=2)
    with pytest.raises(
        ValueError, match=r"unmatched checkpoint keys \['model.99.weight'\].*\['head.conv.bias'\]"
    ):
        ours.load_reference_state_dict(sd)


def test_block_count_mismatch_is_reported() -> None:
    ours = ResnetGenerator.from_preset("cyclegan", base_channels=8, n_blocks=3)
    with pytest.raises(ValueError, match="unmatched checkpoint keys"):
        ours.load_reference_state_dict(RefGenerator(8, 2).state_dict())


def test_shape_mismatch_is_named() -> None:
    ours = ResnetGenerator.from_preset("cyclegan", base_channels=4, n_blocks=2)
    with pytest.raises(ValueError, match=r"shape mismatch for reference key 'model.1.weight'"):
        ours.load_reference_state_dict(RefGenerator(8, 2).state_dict())


def test_weights_unchanged_after_failed_load() -> None:
    ours = ResnetGenerator.from_preset("cyclegan", base_channels=8, n_blocks=2)
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    sd = dict(RefGenerator(8, 2).state_dict())
    del sd["model.1.weight"]
    with pytest.raises(ValueError):
        ours.load_reference_state_dict(sd)
    assert all(torch.equal(before[k], v) for k, v in ours.state_dict().items())


def test_path_errors(tmp_path: Path) -> None:
    ours = ResnetGenerator.from_preset("cyclegan", base_channels=8, n_blocks=2)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        ours.load_reference_state_dict(tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pth"):
        ours.load_reference_state_dict(bad)
    listing = tmp_path / "list.pth"
    torch.save([1, 2], listing)
    with pytest.raises(ValueError, match="expected a state dict"):
        ours.load_reference_state_dict(listing)


def test_non_reference_layout_is_refused() -> None:
    g = ResnetGenerator.from_preset("basic", base_channels=4, n_blocks=1)
    with pytest.raises(ValueError, match="needs the reference layout"):
        g.load_reference_state_dict(RefGenerator(8, 1).state_dict())
