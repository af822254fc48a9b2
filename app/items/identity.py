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


def random_key(seed: int, digest: bytes) -> int:
    """A seeded pseudo-random sort key (48 bits) for the order served before any model."""
    h = hashlib.blake2b(f"{seed}:{digest.hex()}".encode(), digest_size=6).digest()
    return int.from_bytes(h, "big")
