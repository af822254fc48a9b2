"""What identifies an item in its project (a short hash of its text or fields), and the seeded
random key that orders a pool before any model."""

from __future__ import annotations

import hashlib

# The first 16 bytes (128 bits) of a SHA-256, stored as binary: a chance collision needs some
# 2^64 items. The 64 hex digits stored before (until migration 0014) took four times the room,
# in the row and again in the project's unique index.
HASH_BYTES = 16


def text_hash(text: str) -> bytes:
    """The stored identity of a text (``HASH_BYTES`` of its SHA-256)."""
    return hash_of_hex(hashlib.sha256(text.encode("utf-8")).hexdigest())


def hash_of_hex(digest: str) -> bytes:
    """The stored form of a SHA-256 given in hex: its first ``HASH_BYTES`` bytes."""
    return bytes.fromhex(digest[: 2 * HASH_BYTES])


# Random keys have 31 bits: 4 bytes on SQLite (which stores a non-negative integer below 2^31
# in 4 bytes, one of 2^31 or more in 6) and an ``integer`` on PostgreSQL, in the row and in the
# queue's random-order index. Ties (some 2 pairs among 100k items) are broken by id. They are
# the top 31 bits of the 48-bit keys stored until migration 0015, which shifted those right by
# ``KEY_SHIFT``: a pool's order stayed the same.
KEY_BITS = 31
KEY_SHIFT = 48 - KEY_BITS


def random_key(seed: int, digest: bytes) -> int:
    """A seeded pseudo-random sort key (``KEY_BITS`` bits) for the order served before any
    model: uniform, a function of the project's seed and the item's hash."""
    h = hashlib.blake2b(f"{seed}:{digest.hex()}".encode(), digest_size=6).digest()
    return int.from_bytes(h, "big") >> KEY_SHIFT
