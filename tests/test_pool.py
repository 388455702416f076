from __future__ import annotations

import io
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from unpaired_i2i import ImagePool


def batches(n_batches: int, batch: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(batch, 3, 4, 4, generator=g) for _ in range(n_batches)]


@given(
    size=st.integers(0, 6),
    batch=st.integers(1, 4),
    n_batches=st.integers(1, 8),
    seed=st.integers(0, 99),
)
def test_pool_invariants(size: int, batch: int, n_batches: int, seed: int) -> None:
    pool = ImagePool(size, seed=seed)
    seen: list[torch.Tensor] = []
    for images in batches(n_batches, batch, seed):
        seen.extend(torch.split(images, 1))
        out = pool.query(images)
        assert out.shape == images.shape
        assert not out.requires_grad
        assert len(pool) <= size
        # every returned image is one that was queried at some point
        for image in torch.split(out, 1):
            assert any(torch.equal(image, s) for s in seen)
    assert len(pool) == min(size, n_batches * batch)


def test_pool_returns_input_until_full_then_mixes() -> None:
    pool = ImagePool(4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)
    swapped = 0
    for i in range(50):
        new = torch.full((1, 1, 1, 1), 100.0 + i)
        out = pool.query(new)
        swapped += int(not torch.equal(out, new))
    assert 10 < swapped < 40  # probability 0.5 each


def test_pool_size_zero_is_passthrough() -> None:
    pool = ImagePool(0)
    x = torch.randn(3, 3, 2, 2, requires_grad=True)
    out = pool.query(x)
    assert torch.equal(out, x.detach()) and len(pool) == 0


def test_pool_same_seed_same_draws() -> None:
    a, b = ImagePool(3, seed=5), ImagePool(3, seed=5)
    for images in batches(10, 2):
        assert torch.equal(a.query(images), b.query(images))


def test_pool_seed_none_follows_global_seed() -> None:
    torch.manual_seed(1)
    a = ImagePool(2)
    torch.manual_seed(1)
    b = ImagePool(2)
    for images in batches(10, 1):
        assert torch.equal(a.query(images), b.query(images))


def test_pool_state_round_trip_continues_identically() -> None:
    pool = ImagePool(3, seed=7)
    data = batches(12, 2, seed=3)
    for images in data[:6]:
        pool.query(images)
    buffer = io.BytesIO()
    torch.save(pool.state_dict(), buffer)
    buffer.seek(0)
    restored = ImagePool(3, seed=999)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert len(restored) == len(pool)
    for images in data[6:]:
        assert torch.equal(pool.query(images), restored.query(images))


def test_pool_state_errors() -> None:
    state = ImagePool(3, seed=0).state_dict()
    with pytest.raises(ValueError, match="ImagePool state has size 3; this pool has size 2"):
        ImagePool(2).load_state_dict(state)
    state["images"] = [torch.zeros(1, 3, 2, 2)] * 4
    with pytest.raises(ValueError, match="holds 4 images"):
        ImagePool(3).load_state_dict(state)
    with pytest.raises(ValueError, match="size must be an integer >= 0; got -1"):
        ImagePool(-1)
    with pytest.raises(ValueError, match="must be a batch"):
        ImagePool(2).query(torch.zeros(3))


def test_pool_stores_copies() -> None:
    pool = ImagePool(2, seed=0)
    x = torch.zeros(2, 1, 2, 2)
    pool.query(x)
    x.fill_(5.0)
    assert all(float(img.sum()) == 0 for img in pool.state_dict()["images"])


class PoolMachine(RuleBasedStateMachine):
    """ImagePool under random query sequences: no image is created or lost.

    Each image is a constant tensor with a unique value, so images compare as numbers. While
    the pool fills, a query both stores and returns its image; once full, every query either
    returns its image or swaps it for a stored one, so (as multisets)
    ``stored-before + inputs == stored-after + returned`` (fill-phase images counted once).
    """

    def __init__(self) -> None:
        super().__init__()
        self.pool = ImagePool(0)
        self.next_value = 0.0

    @initialize(size=st.integers(0, 5), seed=st.integers(0, 2**16))
    def make_pool(self, size: int, seed: int) -> None:
        self.pool = ImagePool(size, seed=seed)

    def stored(self) -> Counter[float]:
        return Counter(float(img.flatten()[0]) for img in self.pool.state_dict()["images"])

    @rule(batch=st.integers(1, 4))
    def query(self, batch: int) -> None:
        values = [self.next_value + i for i in range(batch)]
        self.next_value += batch
        images = torch.tensor(values).view(batch, 1, 1, 1).expand(batch, 1, 2, 2).contiguous()
        before = self.stored()
        free = self.pool.size - sum(before.values())
        out = self.pool.query(images)
        after = self.stored()
        returned = Counter(float(img.flatten()[0]) for img in out)
        assert out.shape == images.shape
        assert all(torch.all(img == img.flatten()[0]) for img in out)  # whole images, unmixed
        filled = Counter(values[: max(0, min(free, batch))])
        assert before + Counter(values) == after + returned - filled
        assert sum(after.values()) == min(self.pool.size, sum(before.values()) + batch)

    @invariant()
    def never_over_size(self) -> None:
        assert len(self.pool) <= self.pool.size


PoolMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=15, deadline=None)
test_pool_state_machine = PoolMachine.TestCase
