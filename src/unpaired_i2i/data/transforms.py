"""Image transforms: colour-mode normalisation to RGB and the reference CycleGAN pipeline.

The pipeline is the reference one (resize to ``load_size`` with bicubic interpolation, random crop
to ``size``, random horizontal flip, scale to ``[-1, 1]``), written with
:mod:`torchvision.transforms.v2.functional` so that its random parameters can be drawn from a
:class:`torch.Generator` (or from torch's global RNG when none is given).
"""

from __future__ import annotations

import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

__all__ = ["CycleGANTransform", "default_load_size", "to_rgb"]

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

    Training (``train=True``): resize to ``(load_size, load_size)`` with bicubic interpolation
    (aspect ratio not kept, as in the reference), crop a random ``size x size`` window, flip
    horizontally with probability 0.5, convert to float and scale to ``[-1, 1]``. Evaluation
    (``train=False``): the same resize, a center crop, no flip; no randomness at all.

    The crop offsets and the flip are drawn, in that order, from ``generator`` when one is passed
    to :meth:`__call__`, else from torch's global RNG (so DataLoader worker seeding and RNG
    checkpointing apply). Python's ``random`` and NumPy are never used.

    Args:
        size: Side length of the output in pixels.
        load_size: Side length images are resized to before cropping; defaults to
            :func:`default_load_size` (``size * 286 / 256`` rounded, 286 for 256); must be
            ``>= size``.
        train: Random crop and flip when ``True``; center crop and no flip when ``False``.

    Raises:
        ValueError: ``size`` is not a positive integer, or ``load_size`` is smaller than ``size``.

    Shape:
        - Input: a PIL image of any size and mode (converted with :func:`to_rgb`).
        - Output: ``(3, size, size)`` float32 tensor with values in ``[-1, 1]``.

    Example:
        >>> import torch
        >>> from PIL import Image
        >>> t = CycleGANTransform(16, train=True)
        >>> red = Image.new("RGB", (40, 30), (255, 0, 0))
        >>> out = t(red, generator=torch.Generator().manual_seed(0))
        >>> tuple(out.shape), out.dtype, out[0].min().item(), out[1].max().item()
        ((3, 16, 16), torch.float32, 1.0, -1.0)
    """

    def __init__(
        self, size: int = 256, *, load_size: int | None = None, train: bool = True
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"CycleGANTransform expects size to be a positive int; got {size!r}")
        if load_size is None:
            load_size = default_load_size(size)
        if isinstance(load_size, bool) or not isinstance(load_size, int) or load_size < size:
            raise ValueError(
                f"CycleGANTransform expects load_size to be an int >= size ({size}); "
                f"got {load_size!r}"
            )
        self.size = size
        self.load_size = load_size
        self.train = bool(train)

    def get_params(self, generator: torch.Generator | None = None) -> tuple[int, int, bool]:
        """Draw the random parameters of one training transform.

        Args:
            generator: Source of randomness; ``None`` uses torch's global RNG.

        Returns:
            ``(top, left, flip)``: the crop offsets in the resized image and whether to flip.
            In evaluation mode: the center-crop offsets and ``False``, drawing nothing.
        """
        span = self.load_size - self.size
        if not self.train:
            return span // 2, span // 2, False
        top = int(torch.randint(span + 1, (1,), generator=generator).item())
        left = int(torch.randint(span + 1, (1,), generator=generator).item())
        flip = bool(torch.rand((1,), generator=generator).item() < 0.5)
        return top, left, flip

    def __call__(
        self, image: Image.Image, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Transform one image.

        Args:
            image: A PIL image of any mode; converted with :func:`to_rgb` first.
            generator: Source of the crop/flip randomness; ``None`` uses torch's global RNG.

        Returns:
            A ``(3, size, size)`` float32 tensor in ``[-1, 1]``.
        """
        rgb = to_rgb(image)
        top, left, flip = self.get_params(generator)
        resized = F.resize(
            rgb,
            [self.load_size, self.load_size],
            interpolation=v2.InterpolationMode.BICUBIC,
            antialias=True,
        )
        cropped = F.crop(resized, top, left, self.size, self.size)
        if flip:
            cropped = F.horizontal_flip(cropped)
        tensor = F.to_dtype(F.to_image(cropped), torch.float32, scale=True)
        out: torch.Tensor = F.normalize(tensor, mean=_MEAN, std=_STD)
        return out.as_subclass(torch.Tensor)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size={self.size}, load_size={self.load_size}, "
            f"train={self.train})"
        )
