"""Image transforms: colour-mode normalisation to RGB and the reference CycleGAN pipeline.

The pipeline is the reference one: a resize chosen by ``preprocess`` (by default to
``load_size x load_size`` with bicubic interpolation), a random ``size x size`` crop, a random
horizontal flip, scale to ``[-1, 1]``. It is written with
:mod:`torchvision.transforms.v2.functional` so that its random parameters can be drawn from a
:class:`torch.Generator` (or from torch's global RNG when none is given).
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

__all__ = [
    "PREPROCESS_MODES",
    "CycleGANTransform",
    "PreprocessName",
    "default_load_size",
    "to_rgb",
]

PreprocessName: TypeAlias = Literal[
    "resize_and_crop", "scale_width_and_crop", "crop", "scale_width", "none"
]
"""How :class:`CycleGANTransform` brings an image to the network's input size (the reference's
``--preprocess`` choices): see the class for each."""

#: The valid ``preprocess`` values, in the reference's names; the first is the default.
PREPROCESS_MODES: tuple[str, ...] = get_args(PreprocessName)

_CROPPING = frozenset({"resize_and_crop", "scale_width_and_crop", "crop"})
_USES_LOAD_SIZE = frozenset({"resize_and_crop", "scale_width_and_crop", "scale_width"})

_MEAN = [0.5, 0.5, 0.5]
_STD = [0.5, 0.5, 0.5]

#: Modes holding 16-bit integer samples; they are scaled by ``255 / 65535``.
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


def default_load_size(size: int) -> int:
    """Return the reference resize target for a crop of ``size``: ``size * 286 / 256``, rounded.

    This is the reference ratio (load 286, crop 256), about ``1.12 * size``.

    Args:
        size: Side length of the final crop in pixels.

    Returns:
        The side length images are resized to before cropping (286 for 256, 143 for 128).

    Example:
        >>> default_load_size(256), default_load_size(128)
        (286, 143)
    """
    return (size * 286 + 128) // 256


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    # Mode "I" (32-bit signed) is treated as holding 16-bit samples, which is what Pillow gives for
    # 16-bit PGM files; values outside [0, 65535] are clipped. Scaling rounds to nearest.
    wide = image if image.mode == "I" else image.convert("I")
    scaled = wide.point(lambda v: v * (255.0 / 65535.0) + 0.5)
    return scaled.convert("L")  # "I" -> "L" clips to [0, 255]


def _float_to_l(image: Image.Image) -> Image.Image:
    # Mode "F": samples in [0, 1] when the maximum is at most 1, else taken as [0, 255].
    extrema = image.getextrema()
    high = float(extrema[1]) if isinstance(extrema[1], (int, float)) else 255.0
    scale = 255.0 if high <= 1.0 else 1.0
    return image.point(lambda v: v * scale + 0.5).convert("L")


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert a PIL image of any common mode to 8-bit RGB.

    Rules, by mode:

    * ``RGB``: returned unchanged.
    * ``L`` (grayscale) and ``1`` (bilevel): replicated to three channels.
    * ``I;16*`` (16-bit) and ``I`` (32-bit integer, taken as 16-bit data): scaled by
      ``255 / 65535`` and rounded, so the full 16-bit range maps onto ``[0, 255]`` (not clipped).
    * ``F`` (float): taken as ``[0, 1]`` when its maximum is at most 1, else as ``[0, 255]``.
    * Modes with alpha (``RGBA``, ``LA``, ``PA``, ``P`` with transparency, ...): composited
      onto a **white** background, so transparent pixels become white.
    * Everything else (``P``, ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ...): Pillow's conversion.

    Args:
        image: The image to convert.

    Returns:
        A new image in mode ``RGB`` (or ``image`` itself when it is already RGB).

    Raises:
        TypeError: ``image`` is not a :class:`PIL.Image.Image`.

    Example:
        >>> from PIL import Image
        >>> to_rgb(Image.new("I;16", (2, 2), 65535)).getpixel((0, 0))
        (255, 255, 255)
        >>> to_rgb(Image.new("RGBA", (2, 2), (255, 0, 0, 0))).getpixel((0, 0))
        (255, 255, 255)
    """
    if not isinstance(image, Image.Image):
        raise TypeError(f"to_rgb expects image to be a PIL.Image.Image; got {type(image).__name__}")
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _SIXTEEN_BIT_MODES:
        return _sixteen_bit_to_l(image).convert("RGB")
    if mode == "F":
        return _float_to_l(image).convert("RGB")
    has_alpha = "A" in mode or "a" in mode or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "1":
        image = image.convert("L")
    return image.convert("RGB")


class CycleGANTransform:
    """The reference CycleGAN image pipeline as a callable with explicit randomness.

    Each image goes through four steps: a resize chosen by ``preprocess``, a ``size x size``
    crop (random when training, centred otherwise; skipped by the modes without ``crop`` in
    their name), a horizontal flip with probability 0.5 (training with ``flip=True`` only),
    and conversion to a float tensor scaled to ``[-1, 1]``. All resizing is bicubic with
    antialiasing. The ``preprocess`` modes carry the reference's names:

    * ``"resize_and_crop"`` (default): resize to ``load_size x load_size`` (the aspect ratio is
      not kept, as in the reference), then crop. Reference default: 286, then 256.
    * ``"scale_width_and_crop"``: scale to width ``load_size`` keeping the aspect ratio (height
      ``load_size * h // w``), then crop.
    * ``"crop"``: crop from the image at its original resolution, any size or shape.
    * ``"scale_width"``: scale to width ``load_size`` keeping the aspect ratio, no crop.
    * ``"none"``: the whole image at its original resolution, no crop.

    The two modes without a crop give each image its own output size (train with batch 1);
    both sides are rounded to the nearest multiple of ``multiple`` (at least ``multiple``;
    halves to even, as Python's ``round`` in the reference), as the generator needs, which may
    change the aspect ratio by a pixel or two.

    Images smaller than the crop: no mode crops outside the image or pads it. When the resized
    image is narrower or lower than ``size`` (in the ``none`` and ``scale_width`` modes too),
    it is scaled up, keeping its aspect ratio, until its shorter side is ``size``. So a
    200x150 photo in ``"crop"`` mode with ``size=256`` is first scaled to 341x256. (The
    reference stretches only the height in its ``scale_width`` modes and crops past the border
    in ``crop``; this rule keeps the aspect ratio and never reads outside the image.)

    Evaluation (``train=False``) applies the same resize, a centred crop and no flip; it draws
    no random numbers at all, so it is deterministic.

    The crop offsets and the flip are drawn, in that order, from ``generator`` when one is passed
    to :meth:`__call__`, else from torch's global RNG (so DataLoader worker seeding and RNG
    checkpointing apply). The flip is drawn even when ``flip=False``, so the same generator
    state gives the same crop with and without flips. Python's ``random`` and NumPy are never
    used.

    Args:
        size: Side of the square crop in pixels; in the modes without a crop, the smallest
            shorter side an image is scaled up to (see above).
        load_size: Side (``resize_and_crop``) or width (``scale_width*``) images are resized
            to before cropping; defaults to :func:`default_load_size` (``size * 286 / 256``
            rounded, 286 for 256); must be ``>= size`` in those modes, and is unused by
            ``crop`` and ``none``.
        preprocess: One of :data:`PREPROCESS_MODES`, see above.
        flip: Random horizontal flips when training (the reference's ``--no_flip`` is
            ``flip=False``).
        train: Random crop and flip when ``True``; centred crop and no flip when ``False``.
        multiple: Output sides of the modes without a crop are rounded to a multiple of this:
            the generator's downsampling factor (4 for the ``cyclegan`` layout, 8 for
            ``basic``).

    Raises:
        ValueError: ``size`` or ``multiple`` is not a positive integer, ``load_size`` is smaller
            than ``size`` in a mode that uses it, or ``preprocess`` is unknown (the message
            lists the modes).

    Shape:
        - Input: a PIL image of any size and mode (converted with :func:`to_rgb`).
        - Output: ``(3, size, size)`` float32 tensor with values in ``[-1, 1]``;
          ``(3, H, W)`` with ``H`` and ``W`` multiples of ``multiple`` in the modes without a
          crop.

    Example:
        >>> import torch
        >>> from PIL import Image
        >>> t = CycleGANTransform(16, train=True)
        >>> red = Image.new("RGB", (40, 30), (255, 0, 0))
        >>> out = t(red, generator=torch.Generator().manual_seed(0))
        >>> tuple(out.shape), out.dtype, out[0].min().item(), out[1].max().item()
        ((3, 16, 16), torch.float32, 1.0, -1.0)
        >>> CycleGANTransform(16, preprocess="none")(red).shape
        torch.Size([3, 32, 40])
        >>> CycleGANTransform(16, load_size=20, preprocess="scale_width").output_size(40, 30)
        (20, 16)
    """

    def __init__(
        self,
        size: int = 256,
        *,
        load_size: int | None = None,
        preprocess: PreprocessName = "resize_and_crop",
        flip: bool = True,
        train: bool = True,
        multiple: int = 4,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"CycleGANTransform expects size to be a positive int; got {size!r}")
        if preprocess not in PREPROCESS_MODES:
            raise ValueError(
                f"CycleGANTransform expects preprocess to be one of "
                f"{', '.join(PREPROCESS_MODES)}; got {preprocess!r}"
            )
        if isinstance(multiple, bool) or not isinstance(multiple, int) or multiple < 1:
            raise ValueError(
                f"CycleGANTransform expects multiple to be a positive int; got {multiple!r}"
            )
        if load_size is None:
            load_size = default_load_size(size)
        if isinstance(load_size, bool) or not isinstance(load_size, int) or load_size < 1:
            raise ValueError(
                f"CycleGANTransform expects load_size to be a positive int; got {load_size!r}"
            )
        if preprocess in _USES_LOAD_SIZE and load_size < size:
            raise ValueError(
                f"CycleGANTransform expects load_size to be an int >= size ({size}) with "
                f"preprocess={preprocess!r}; got {load_size!r}"
            )
        self.size = size
        self.load_size = load_size
        self.preprocess: PreprocessName = preprocess
        self.flip = bool(flip)
        self.train = bool(train)
        self.multiple = multiple

    @property
    def crops(self) -> bool:
        """Whether the output is a ``size x size`` crop (the modes with ``crop`` in the name)."""
        return self.preprocess in _CROPPING

    @property
    def min_input_size(self) -> tuple[int, int] | None:
        """The smallest ``(width, height)`` an input can have without changing this transform.

        The ``resize_and_crop`` and ``scale_width*`` modes resize every image to a size set by
        ``load_size``, so a larger input is only downscaled further:
        :class:`~unpaired_i2i.data.UnpairedImageDataset` lets JPEGs be decoded at a reduced
        scale (1/2, 1/4 or 1/8, libjpeg's DCT scaling: much faster for large photos) as long
        as the result is at least this large. ``None`` for ``crop`` and ``none``, which keep
        the original resolution.
        """
        if self.preprocess == "resize_and_crop":
            return self.load_size, self.load_size
        if self.preprocess in ("scale_width_and_crop", "scale_width"):
            return self.load_size, 1  # the height follows the width's scale
        return None

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """Size ``(width, height)`` of an image of the given size after the resize step.

        This is what the crop is taken from (or, in the modes without a crop, the output
        before rounding to ``multiple``): the mode's resize, then the scale-up that brings a
        shorter side below ``size`` up to ``size`` (see the class).

        Args:
            width: Width of the input image in pixels.
            height: Height of the input image in pixels.

        Returns:
            ``(width, height)`` after resizing; both are at least ``size``.
        """
        if self.preprocess == "resize_and_crop":
            w, h = self.load_size, self.load_size
        elif self.preprocess in ("scale_width_and_crop", "scale_width"):
            w, h = self.load_size, max(1, self.load_size * height // width)
        else:
            w, h = width, height
        short = min(w, h)
        if short < self.size:  # scale up, keeping the aspect ratio, to a shorter side of size
            if w <= h:
                w, h = self.size, max(self.size, round(h * self.size / w))
            else:
                w, h = max(self.size, round(w * self.size / h)), self.size
        return w, h

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """Size ``(width, height)`` of the output for an input image of the given size.

        Args:
            width: Width of the input image in pixels.
            height: Height of the input image in pixels.

        Returns:
            ``(size, size)`` in the cropping modes; else :meth:`resized_size` rounded to the
            nearest multiple of ``multiple`` (at least ``multiple``).
        """
        if self.crops:
            return self.size, self.size
        w, h = self.resized_size(width, height)
        m = self.multiple
        return max(m, round(w / m) * m), max(m, round(h / m) * m)

    def get_params(
        self,
        generator: torch.Generator | None = None,
        *,
        image_size: tuple[int, int] | None = None,
    ) -> tuple[int, int, bool]:
        """Draw the random parameters of one transform.

        Args:
            generator: Source of randomness; ``None`` uses torch's global RNG.
            image_size: ``(width, height)`` of the input image; may be left out with
                ``preprocess="resize_and_crop"``, whose resize does not depend on it.

        Returns:
            ``(top, left, flip)``: the crop offsets in the resized image (:meth:`resized_size`;
            ``0, 0`` in the modes without a crop) and whether to flip. Training draws the top
            offset, the left offset and the flip, in that order, whatever the mode. In
            evaluation mode: the centred offsets and ``False``, drawing nothing.

        Raises:
            ValueError: ``image_size`` is missing where the mode needs it.
        """
        if image_size is None:
            if self.preprocess != "resize_and_crop":
                raise ValueError(
                    f"CycleGANTransform.get_params needs image_size with "
                    f"preprocess={self.preprocess!r}"
                )
            image_size = (self.load_size, self.load_size)
        w, h = self.resized_size(*image_size)
        span_y, span_x = (h - self.size, w - self.size) if self.crops else (0, 0)
        if not self.train:
            return span_y // 2, span_x // 2, False
        top = int(torch.randint(span_y + 1, (1,), generator=generator).item())
        left = int(torch.randint(span_x + 1, (1,), generator=generator).item())
        flip = bool(torch.rand((1,), generator=generator).item() < 0.5)
        return top, left, flip and self.flip

    def __call__(
        self, image: Image.Image, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Transform one image.

        Args:
            image: A PIL image of any mode; converted with :func:`to_rgb` first.
            generator: Source of the crop/flip randomness; ``None`` uses torch's global RNG.

        Returns:
            A ``(3, size, size)`` float32 tensor in ``[-1, 1]`` (``(3, H, W)`` in the modes
            without a crop, see :meth:`output_size`).
        """
        rgb = to_rgb(image)
        top, left, flip = self.get_params(generator, image_size=rgb.size)
        if self.crops:
            width, height = self.resized_size(*rgb.size)
        else:
            width, height = self.output_size(*rgb.size)
        if (width, height) != rgb.size:
            rgb = F.resize(
                rgb, [height, width], interpolation=v2.InterpolationMode.BICUBIC, antialias=True
            )
        if self.crops:
            rgb = F.crop(rgb, top, left, self.size, self.size)
        if flip:
            rgb = F.horizontal_flip(rgb)
        tensor = F.to_dtype(F.to_image(rgb), torch.float32, scale=True)
        out: torch.Tensor = F.normalize(tensor, mean=_MEAN, std=_STD)
        return out.as_subclass(torch.Tensor)

    def __repr__(self) -> str:
        options = [f"size={self.size}"]
        if self.preprocess in _USES_LOAD_SIZE:
            options.append(f"load_size={self.load_size}")
        if self.preprocess != "resize_and_crop":
            options.append(f"preprocess={self.preprocess!r}")
        if not self.flip:
            options.append("flip=False")
        options.append(f"train={self.train}")
        if self.multiple != 4:
            options.append(f"multiple={self.multiple}")
        return f"{type(self).__name__}({', '.join(options)})"
