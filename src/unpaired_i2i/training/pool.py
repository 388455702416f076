"""The image history buffer of Shrivastava et al. 2017, as used by CycleGAN."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["ImagePool"]


class ImagePool:
    """History of generated images that discriminators are shown instead of only the newest.

    Until ``size`` images are stored, each queried image is stored and returned as is. Once
    full, each queried image is, with probability 0.5, stored in place of a uniformly chosen
    stored image, which is returned instead; otherwise it is returned as is. ``size=0``
    disables the pool. Randomness comes from the pool's own CPU ``torch.Generator`` (so drawing
    never synchronises with an accelerator), and :meth:`state_dict` carries both the stored
    images and that generator's state, so a resumed run draws exactly the same images.

    Args:
        size: Maximum number of stored images (reference: 50).
        seed: Seed of the pool's generator; ``None`` draws one from torch's global RNG, so
            ``torch.manual_seed`` makes the pool reproducible too.

    Shape:
        - ``query`` input: ``(N, C, H, W)``, any values (generated images in ``[-1, 1]``).
        - ``query`` output: ``(N, C, H, W)``, detached, on the input's device.

    Example:
        >>> import torch
        >>> pool = ImagePool(2, seed=0)
        >>> out = pool.query(torch.zeros(2, 3, 4, 4))  # fills the pool, returns the input
        >>> len(pool), bool(out.eq(0).all())
        (2, True)
    """

    def __init__(self, size: int = 50, *, seed: int | None = None) -> None:
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be an integer >= 0; got {size!r}")
        self.size = size
        self._images: list[torch.Tensor] = []
        self._generator = torch.Generator(device="cpu")
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self._generator.manual_seed(seed)

    def __len__(self) -> int:
        return len(self._images)

    def __repr__(self) -> str:
        return f"ImagePool(size={self.size}, stored={len(self._images)})"

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch of the same shape mixing ``images`` with stored ones.

        Args:
            images: Generated images ``(N, C, H, W)``.

        Returns:
            A detached ``(N, C, H, W)`` tensor on the device of ``images``.

        Raises:
            ValueError: ``images`` has no batch dimension (``dim() < 2``).
        """
        if images.dim() < 2:
            raise ValueError(
                f"images must be a batch (N, C, H, W); got shape {tuple(images.shape)}"
            )
        images = images.detach()
        if self.size == 0:
            return images
        returned: list[torch.Tensor] = []
        for i in range(images.shape[0]):
            image = images[i : i + 1]
            if len(self._images) < self.size:
                self._images.append(image.clone())
                returned.append(image)
            elif float(torch.rand((), generator=self._generator)) > 0.5:
                index = int(torch.randint(0, self.size, (), generator=self._generator))
                returned.append(self._images[index].to(image.device))
                self._images[index] = image.clone()
            else:
                returned.append(image)
        return torch.cat(returned, dim=0)

    def state_dict(self) -> dict[str, Any]:
        """Return the stored images and the RNG state (tensors and ints only)."""
        return {
            "size": self.size,
            "images": [image.clone() for image in self._images],
            "rng_state": self._generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict`.

        Raises:
            ValueError: The state's ``size`` differs from this pool's or it holds too many
                images.
        """
        if int(state["size"]) != self.size:
            raise ValueError(
                f"ImagePool state has size {int(state['size'])}; this pool has size {self.size}"
            )
        images = list(state["images"])
        if len(images) > self.size:
            raise ValueError(
                f"ImagePool state holds {len(images)} images, more than size {self.size}"
            )
        self._images = [torch.as_tensor(image).clone() for image in images]
        self._generator.set_state(state["rng_state"])
