"""An item's identity in its project (hash) and its seeded place in the pool's first order."""

from __future__ import annotations

import hashlib

from app.items.identity import KEY_BITS, random_key, text_hash

TEXTS = [f"text number {i}" for i in range(20_000)]


def _keys(seed: int) -> list[int]:
    return [random_key(seed, text_hash(t)) for t in TEXTS]


def test_random_keys_fit_in_31_bits_and_spread_uniformly() -> None:
    keys = _keys(7)
    assert KEY_BITS == 31
    assert min(keys) >= 0 and max(keys) < 2**31  # 4 bytes on SQLite, an integer on PostgreSQL
    tenths = [0] * 10
    for key in keys:
        tenths[key * 10 >> 31] += 1
    assert all(abs(n - 2000) < 200 for n in tenths)  # ~6 standard deviations
    assert len(set(keys)) >= len(keys) - 2  # ties are rare (broken by id)


def test_random_keys_are_the_top_bits_of_the_keys_stored_before() -> None:
    """Migration 0015 shifted the stored 48-bit keys right: new imports must agree."""
    digest = text_hash("héllo")
    old = hashlib.blake2b(f"3:{digest.hex()}".encode(), digest_size=6).digest()
    assert random_key(3, digest) == int.from_bytes(old, "big") >> (48 - KEY_BITS)


def test_the_order_depends_on_the_seed() -> None:
    assert _keys(1) == _keys(1)
    order = sorted(range(len(TEXTS)), key=_keys(1).__getitem__)
    assert order != sorted(range(len(TEXTS)), key=_keys(2).__getitem__)
