"""Built-in demo data: procedurally drawn landscapes in summer and in winter.

A scene's *geometry* (horizon, sun, clouds, mountain ridges, rolling ground, lakes, trees,
lighting, ground texture) is a pure function of an integer seed; the *season* only chooses the
palette and a few season-specific textures (snow on peaks, trees and ground, frozen lakes with
cracks instead of ripples). Drawing one geometry in both seasons therefore gives a true pair, so a
summer-to-winter translation can be scored against its real counterpart, while the unpaired
training sets are drawn from different geometries.

Everything is drawn with Pillow (``ImageDraw`` polygons and ellipses, gradient and noise masks) at
twice the requested size and box-downsampled, which anti-aliases edges; a 128x128 scene takes a
few milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from PIL import Image, ImageDraw

from unpaired_i2i._checks import check_int
from unpaired_i2i._io import StrPath, write_atomic

__all__ = ["SEASONS", "Season", "draw_scene", "make_season_dataset"]

Season = Literal["summer", "winter"]
#: The two seasons, in domain order: ``A`` (``trainA``/``testA``) is summer, ``B`` is winter.
SEASONS: tuple[Season, ...] = get_args(Season)

_MANIFEST = "season_dataset.json"
_KIND = "unpaired_i2i.synthetic.seasons"
_VERSION = 1
_FILE_RE = re.compile(r"^\d+\.png$")

RGB = tuple[int, int, int]
Point = tuple[float, float]


# --------------------------------------------------------------------------------------------
# Geometry: everything in normalised coordinates (x, y in [0, 1], y down), independent of size.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ridge:
    points: tuple[Point, ...]  # alternating valley, peak, valley, ... from left to right
    haze: float  # 0 = near, 1 = lost in the sky colour
    rock: float  # per-ridge rock tint in [-1, 1]


@dataclass(frozen=True)
class _Tree:
    x: float
    base: float  # y of the trunk foot
    height: float
    conifer: bool
    layers: int


@dataclass(frozen=True)
class _Geometry:
    horizon: float
    sun: tuple[float, float, float]  # x, y, radius
    light_from_left: bool
    brightness: float
    warmth: float
    clouds: tuple[tuple[float, float, float, float], ...]
    ridges: tuple[_Ridge, ...]
    snow_jitter: tuple[float, ...]
    summer_snowline: float  # absolute y; snow above it in summer
    winter_snowline: float
    hills: tuple[Point, ...]
    lakes: tuple[tuple[float, float, float, float], ...]
    lake_lines: tuple[tuple[float, float, float], ...]  # (dy, x0, x1) relative to each lake
    trees: tuple[_Tree, ...]
    noise: bytes  # 16 x 16 ground texture
    noise_side: int


def _geometry(seed: int) -> _Geometry:
    rng = random.Random(seed)
    horizon = rng.uniform(0.48, 0.64)
    light_from_left = rng.random() < 0.5
    sun_x = rng.uniform(0.08, 0.35) if light_from_left else rng.uniform(0.65, 0.92)
    sun = (sun_x, rng.uniform(0.08, 0.28), rng.uniform(0.035, 0.06))
    clouds = []
    for _ in range(rng.randint(0, 3)):
        cx, cy, w = rng.uniform(0.0, 1.0), rng.uniform(0.05, horizon - 0.25), rng.uniform(0.1, 0.2)
        for _ in range(3):
            clouds.append(
                (cx + rng.uniform(-w, w) * 0.5, cy + rng.uniform(-0.02, 0.02), w, w * 0.3)
            )
    ridges = []
    n_ridges = rng.randint(1, 3)
    highest = horizon
    for r in range(n_ridges):
        haze = 0.5 * (n_ridges - 1 - r) / max(1, n_ridges - 1) if n_ridges > 1 else 0.0
        top = horizon - rng.uniform(0.2, 0.38) * (1.0 - 0.25 * r / max(1, n_ridges))
        n_peaks = rng.randint(2, 4)
        xs = sorted(rng.uniform(-0.05, 1.05) for _ in range(n_peaks))
        points: list[Point] = [(-0.1, horizon - rng.uniform(0.0, 0.08))]
        for k, px in enumerate(xs):
            py = rng.uniform(top, top + 0.6 * (horizon - top))
            points.append((px, py))
            highest = min(highest, py)
            nxt = xs[k + 1] if k + 1 < n_peaks else 1.1
            vx = (px + nxt) / 2 + rng.uniform(-0.03, 0.03)
            points.append((vx, rng.uniform(py + 0.35 * (horizon - py), horizon + 0.01)))
        ridges.append(_Ridge(tuple(points), haze, rng.uniform(-1.0, 1.0)))
    span = horizon - highest
    summer_snowline = highest + rng.uniform(0.12, 0.22) * span
    winter_snowline = highest + rng.uniform(0.7, 0.85) * span
    snow_jitter = tuple(rng.uniform(-1.0, 1.0) for _ in range(25))
    hills = tuple((i / 8.0, horizon + rng.uniform(-0.025, 0.02)) for i in range(9))
    lakes = []
    for _ in range(rng.choice((0, 1, 1, 2))):
        cy = rng.uniform(horizon + 0.08, 0.9)
        depth = (cy - horizon) / (1.0 - horizon)
        rx = rng.uniform(0.1, 0.25) * (0.5 + depth)
        lakes.append((rng.uniform(0.15, 0.85), cy, rx, rx * rng.uniform(0.15, 0.3)))
    lake_lines = tuple(
        (rng.uniform(-0.6, 0.6), rng.uniform(-0.7, 0.0), rng.uniform(0.0, 0.7)) for _ in range(4)
    )
    trees = []
    for _ in range(rng.randint(4, 18)):
        base = rng.uniform(horizon + 0.03, 1.02)
        x = rng.uniform(-0.03, 1.03)
        if any(((x - lx) / rx) ** 2 + ((base - ly) / ry) ** 2 < 1.6 for lx, ly, rx, ry in lakes):
            continue
        depth = (base - horizon) / (1.0 - horizon)
        trees.append(
            _Tree(
                x=x,
                base=base,
                height=rng.uniform(0.08, 0.14) * (0.35 + depth),
                conifer=rng.random() < 0.75,
                layers=rng.randint(2, 4),
            )
        )
    trees.sort(key=lambda t: t.base)
    side = 16
    return _Geometry(
        horizon=horizon,
        sun=sun,
        light_from_left=light_from_left,
        brightness=rng.uniform(0.85, 1.08),
        warmth=rng.uniform(-1.0, 1.0),
        clouds=tuple(clouds),
        ridges=tuple(ridges),
        snow_jitter=snow_jitter,
        summer_snowline=summer_snowline,
        winter_snowline=winter_snowline,
        hills=hills,
        lakes=tuple(lakes),
        lake_lines=lake_lines,
        trees=tuple(trees),
        noise=rng.randbytes(side * side),
        noise_side=side,
    )


# --------------------------------------------------------------------------------------------
# Palettes
# --------------------------------------------------------------------------------------------

_PALETTES: dict[str, dict[str, RGB]] = {
    "summer": {
        "sky_top": (52, 112, 196),
        "sky_horizon": (166, 204, 236),
        "sun": (255, 246, 196),
        "cloud": (250, 250, 252),
        "rock_light": (128, 116, 102),
        "rock_dark": (82, 76, 74),
        "snow_light": (246, 247, 250),
        "snow_dark": (188, 198, 220),
        "ground_light": (116, 172, 72),
        "ground_dark": (70, 128, 48),
        "shadow": (48, 92, 38),
        "water": (52, 110, 176),
        "water_line": (140, 186, 228),
        "tree_light": (44, 118, 52),
        "tree_dark": (20, 72, 36),
        "leaf_light": (92, 160, 60),
        "leaf_dark": (50, 112, 40),
        "trunk": (92, 62, 40),
    },
    "winter": {
        "sky_top": (140, 156, 178),
        "sky_horizon": (214, 219, 228),
        "sun": (238, 238, 232),
        "cloud": (196, 201, 210),
        "rock_light": (112, 108, 106),
        "rock_dark": (70, 70, 76),
        "snow_light": (246, 247, 250),
        "snow_dark": (188, 198, 220),
        "ground_light": (242, 244, 249),
        "ground_dark": (200, 210, 228),
        "shadow": (164, 176, 204),
        "water": (196, 220, 234),
        "water_line": (150, 176, 198),
        "tree_light": (36, 92, 56),
        "tree_dark": (16, 54, 34),
        "leaf_light": (134, 120, 106),
        "leaf_dark": (98, 88, 80),
        "trunk": (80, 60, 46),
    },
}


def _lit(colour: RGB, brightness: float, warmth: float) -> RGB:
    r, g, b = colour
    shift = 10.0 * warmth
    return (
        max(0, min(255, round(r * brightness + shift))),
        max(0, min(255, round(g * brightness))),
        max(0, min(255, round(b * brightness - shift))),
    )


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _render(geo: _Geometry, season: Season, side: int) -> Image.Image:
    pal = {k: _lit(v, geo.brightness, geo.warmth) for k, v in _PALETTES[season].items()}
    winter = season == "winter"
    s = float(side)

    def px(p: Point) -> tuple[float, float]:
        return (p[0] * s, p[1] * s)

    def solid(colour: RGB) -> Image.Image:
        return Image.new("RGB", (side, side), colour)

    # Sky: vertical gradient from the top colour to the horizon colour.
    horizon_px = max(1, round(geo.horizon * s))
    gradient = Image.linear_gradient("L").resize((side, horizon_px + 1))
    sky_mask = Image.new("L", (side, side), 255)
    sky_mask.paste(gradient, (0, 0))
    canvas = Image.composite(solid(pal["sky_horizon"]), solid(pal["sky_top"]), sky_mask)
    draw = ImageDraw.Draw(canvas)

    sx, sy, sr = geo.sun
    glow = _mix(pal["sun"], pal["sky_top"], 0.55)
    draw.ellipse(
        ((sx - 2 * sr) * s, (sy - 2 * sr) * s, (sx + 2 * sr) * s, (sy + 2 * sr) * s), fill=glow
    )
    draw.ellipse(((sx - sr) * s, (sy - sr) * s, (sx + sr) * s, (sy + sr) * s), fill=pal["sun"])
    for cx, cy, w, h in geo.clouds:
        draw.ellipse(
            ((cx - w / 2) * s, (cy - h / 2) * s, (cx + w / 2) * s, (cy + h / 2) * s),
            fill=pal["cloud"],
        )

    # Mountain ridges, far to near, each with a shadowed face per peak and a jagged snowline.
    base_y = geo.horizon + 0.03
    snowline = geo.winter_snowline if winter else geo.summer_snowline
    snow_region = Image.new("L", (side, side), 0)
    n = len(geo.snow_jitter)
    jagged = [(i / (n - 1) * s, (snowline + 0.015 * j) * s) for i, j in enumerate(geo.snow_jitter)]
    ImageDraw.Draw(snow_region).polygon([(0.0, 0.0), (s, 0.0), *jagged[::-1]], fill=255)
    for ridge in geo.ridges:
        outline = [px(p) for p in ridge.points] + [(1.2 * s, base_y * s), (-0.2 * s, base_y * s)]
        ridge_mask = Image.new("L", (side, side), 0)
        ImageDraw.Draw(ridge_mask).polygon(outline, fill=255)
        shadow = Image.new("L", (side, side), 0)
        shadow_draw = ImageDraw.Draw(shadow)
        pts = ridge.points
        for k in range(1, len(pts) - 1, 2):
            peak = pts[k]
            valley = pts[k + 1] if geo.light_from_left else pts[k - 1]
            foot_x = peak[0] + (0.04 if geo.light_from_left else -0.04)
            shadow_draw.polygon(
                [px(peak), px(valley), (valley[0] * s, base_y * s), (foot_x * s, base_y * s)],
                fill=255,
            )
        tint = 8.0 * ridge.rock
        rock_light = _mix(_lit(pal["rock_light"], 1.0, tint / 10), pal["sky_horizon"], ridge.haze)
        rock_dark = _mix(_lit(pal["rock_dark"], 1.0, tint / 10), pal["sky_horizon"], ridge.haze)
        snow_light = _mix(pal["snow_light"], pal["sky_horizon"], ridge.haze)
        snow_dark = _mix(pal["snow_dark"], pal["sky_horizon"], ridge.haze)
        rock = Image.composite(solid(rock_dark), solid(rock_light), shadow)
        snow = Image.composite(solid(snow_dark), solid(snow_light), shadow)
        layer = Image.composite(snow, rock, snow_region)
        canvas.paste(layer, (0, 0), ridge_mask)

    # Rolling ground with a smooth texture shared by both seasons.
    ground_mask = Image.new("L", (side, side), 0)
    hills = [px(p) for p in geo.hills]
    ImageDraw.Draw(ground_mask).polygon(
        [(-1.0, hills[0][1]), *hills, (s + 1, hills[-1][1]), (s + 1, s + 1), (-1.0, s + 1)],
        fill=255,
    )
    noise = Image.frombytes("L", (geo.noise_side, geo.noise_side), geo.noise)
    texture = noise.resize((side, side), Image.Resampling.BICUBIC)
    ground = Image.composite(solid(pal["ground_dark"]), solid(pal["ground_light"]), texture)
    canvas.paste(ground, (0, 0), ground_mask)
    draw = ImageDraw.Draw(canvas)

    # Lakes: open water with light ripples in summer, pale ice with dark cracks in winter.
    for lx, ly, rx, ry in geo.lakes:
        box = ((lx - rx) * s, (ly - ry) * s, (lx + rx) * s, (ly + ry) * s)
        draw.ellipse(box, fill=pal["water"])
        width = max(1, round(s / 128))
        for dy, x0, x1 in geo.lake_lines:
            y = (ly + dy * ry) * s
            draw.line(
                ((lx + x0 * rx) * s, y, (lx + x1 * rx) * s, y), fill=pal["water_line"], width=width
            )

    # Trees, back to front, each with a cast shadow and a lit and a shaded half.
    direction = 1.0 if geo.light_from_left else -1.0
    for tree in geo.trees:
        h = tree.height
        half = h * (0.28 if tree.conifer else 0.3)
        x, base = tree.x, tree.base
        ends = sorted((x - direction * half * 0.3, x + direction * half * 2.4))
        shadow_box = (ends[0] * s, (base - h * 0.05) * s, ends[1] * s, (base + h * 0.06) * s)
        draw.ellipse(shadow_box, fill=pal["shadow"])
        trunk_w = max(h * 0.06, 1.5 / s)
        draw.rectangle(
            ((x - trunk_w) * s, (base - h * 0.3) * s, (x + trunk_w) * s, base * s),
            fill=pal["trunk"],
        )
        if tree.conifer:
            for layer_i in range(tree.layers):
                frac = layer_i / tree.layers
                top = base - h * (1.0 - 0.55 * frac)
                bottom = base - h * (0.2 + 0.25 * (1.0 - frac))
                w = half * (0.55 + 0.45 * (layer_i + 1) / tree.layers)
                left = [(x * s, top * s), ((x - w) * s, bottom * s), (x * s, bottom * s)]
                right = [(x * s, top * s), ((x + w) * s, bottom * s), (x * s, bottom * s)]
                lit, dark = (left, right) if geo.light_from_left else (right, left)
                draw.polygon(lit, fill=pal["tree_light"])
                draw.polygon(dark, fill=pal["tree_dark"])
                if winter:  # snow cap on the upper part of each tier
                    cap = 0.45
                    cy = top + (bottom - top) * cap
                    cw = w * cap
                    cl = [(x * s, top * s), ((x - cw) * s, cy * s), (x * s, cy * s)]
                    cr = [(x * s, top * s), ((x + cw) * s, cy * s), (x * s, cy * s)]
                    clit, cdark = (cl, cr) if geo.light_from_left else (cr, cl)
                    draw.polygon(clit, fill=pal["snow_light"])
                    draw.polygon(cdark, fill=pal["snow_dark"])
        else:
            top = base - h
            box = ((x - half) * s, top * s, (x + half) * s, (base - h * 0.25) * s)
            draw.ellipse(box, fill=pal["leaf_dark"])
            inset = half * 0.35
            lit_box = (
                (x - half + (0 if geo.light_from_left else inset)) * s,
                top * s,
                (x + half - (inset if geo.light_from_left else 0)) * s,
                (base - h * 0.4) * s,
            )
            draw.ellipse(lit_box, fill=pal["leaf_light"])
            if winter:
                draw.ellipse(
                    ((x - half * 0.7) * s, top * s, (x + half * 0.7) * s, (top + h * 0.22) * s),
                    fill=pal["snow_light"],
                )
    return canvas


def draw_scene(geometry_seed: int, season: Season, *, size: int = 128) -> Image.Image:
    """Draw one landscape: the geometry comes from ``geometry_seed``, the palette from ``season``.

    The same seed drawn in both seasons gives the same horizon, mountains, lakes, trees, sun and
    lighting; summer has a blue sky, green ground and trees, open water and snow only on the
    highest peaks, winter a paler grey sky, white ground, snow on trees and most of the mountains,
    and frozen lakes. Output is bitwise deterministic for a given Pillow version.

    Args:
        geometry_seed: Any integer; selects the scene layout.
        season: ``"summer"`` or ``"winter"``.
        size: Side of the square image in pixels (at least 8).

    Returns:
        An RGB image of ``size x size`` pixels.

    Raises:
        ValueError: ``season`` is not one of :data:`SEASONS`, or ``size`` is not an int >= 8.

    Example:
        >>> summer = draw_scene(7, "summer", size=64)
        >>> winter = draw_scene(7, "winter", size=64)
        >>> summer.size, summer.mode
        ((64, 64), 'RGB')
        >>> from PIL import ImageStat
        >>> def brightness(img): return ImageStat.Stat(img.convert("L")).mean[0]
        >>> brightness(winter) > brightness(summer)  # snow
        True
    """
    if season not in SEASONS:
        raise ValueError(f"draw_scene expects season to be one of {SEASONS}; got {season!r}")
    check_int("draw_scene size", size, 8)
    if isinstance(geometry_seed, bool) or not isinstance(geometry_seed, int):
        raise ValueError(f"draw_scene expects geometry_seed to be an int; got {geometry_seed!r}")
    return _render(_geometry(geometry_seed), season, 2 * size).reduce(2)


def _scene_seed(seed: int, stream: str, index: int) -> int:
    digest = hashlib.blake2b(f"{seed}/{stream}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _write_manifest(root: Path, params: dict[str, object]) -> None:
    text = json.dumps(params, indent=2, sort_keys=True) + "\n"
    write_atomic(root / _MANIFEST, lambda f: f.write(text.encode()))


def _read_manifest(root: Path) -> dict[str, object] | None:
    path = root / _MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def make_season_dataset(
    root: StrPath,
    *,
    n_train: int = 200,
    n_test: int = 20,
    size: int = 128,
    seed: int = 0,
) -> Path:
    """Write the summer/winter demo dataset in the reference layout and return its root.

    Layout: ``trainA`` (summer) and ``trainB`` (winter) hold ``n_train`` PNGs each, drawn from
    *different* geometries (unpaired); ``testA`` and ``testB`` hold ``n_test`` PNGs each, where
    ``testA/0007.png`` and ``testB/0007.png`` are the same geometry in the two seasons (paired by
    file name, so ``UnpairedImageDataset.from_root(root, "test")`` serves true pairs).

    The files are bitwise identical for the same arguments. A manifest (``season_dataset.json``)
    records the parameters; when it matches and every file is present the call returns at once
    without writing. When the parameters differ, the previous generated images are replaced. A
    folder that holds other files under ``trainA``/``trainB``/``testA``/``testB`` but no manifest
    is never overwritten. At the defaults (``n_train=200``, ``n_test=20``, ``size=128``) writing
    takes a few seconds on one CPU core.

    Args:
        root: Output folder (created if needed).
        n_train: Images per training domain.
        n_test: Test pairs.
        size: Image side in pixels (at least 8).
        seed: Selects the geometries.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: A count or ``size`` is invalid.
        FileExistsError: ``root`` holds split folders with files but no manifest of this function.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     root = make_season_dataset(d, n_train=3, n_test=2, size=32)
        ...     print(sorted(p.name for p in (root / "testB").iterdir()))
        ['0000.png', '0001.png']
    """
    check_int("make_season_dataset n_train", n_train, 1)
    check_int("make_season_dataset n_test", n_test, 1)
    check_int("make_season_dataset size", size, 8)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"make_season_dataset expects seed to be an int; got {seed!r}")
    out = Path(root)
    params: dict[str, object] = {
        "kind": _KIND,
        "version": _VERSION,
        "n_train": n_train,
        "n_test": n_test,
        "size": size,
        "seed": seed,
    }
    width = max(4, len(str(max(n_train, n_test) - 1)))
    plan: dict[str, list[tuple[str, int, Season]]] = {
        "trainA": [
            (f"{i:0{width}d}.png", _scene_seed(seed, "trainA", i), "summer") for i in range(n_train)
        ],
        "trainB": [
            (f"{i:0{width}d}.png", _scene_seed(seed, "trainB", i), "winter") for i in range(n_train)
        ],
        "testA": [
            (f"{i:0{width}d}.png", _scene_seed(seed, "test", i), "summer") for i in range(n_test)
        ],
        "testB": [
            (f"{i:0{width}d}.png", _scene_seed(seed, "test", i), "winter") for i in range(n_test)
        ],
    }
    manifest = _read_manifest(out) if out.is_dir() else None
    if manifest is not None and manifest == {**params, "complete": True}:
        if all(
            sorted(p.name for p in (out / split).iterdir()) == [name for name, _, _ in files]
            for split, files in plan.items()
            if (out / split).is_dir()
        ) and all((out / split).is_dir() for split in plan):
            return out
    if manifest is None and out.is_dir():
        occupied = [
            split for split in plan if (out / split).is_dir() and any((out / split).iterdir())
        ]
        if occupied:
            raise FileExistsError(
                f"make_season_dataset will not overwrite {out}: it holds files in "
                f"{', '.join(occupied)} but no {_MANIFEST}; pass an empty or new folder"
            )
    out.mkdir(parents=True, exist_ok=True)
    _write_manifest(out, {**params, "complete": False})
    for split, files in plan.items():
        folder = out / split
        folder.mkdir(exist_ok=True)
        wanted = {name for name, _, _ in files}
        for stale in folder.iterdir():
            if stale.is_file() and _FILE_RE.match(stale.name) and stale.name not in wanted:
                stale.unlink()
        for name, scene_seed, season in files:
            draw_scene(scene_seed, season, size=size).save(folder / name, format="PNG")
    _write_manifest(out, {**params, "complete": True})
    return out
