"""How guessable a configured secret is: zxcvbn's estimate in bits, against a bar of 128.

A list of known placeholders only catches the ones on the list; ``changeme`` four times or
a hex alphabet written out twice passes it. zxcvbn looks for what people type instead of
random characters (dictionary words, repeats, sequences, keyboard walks, dates) and prices
whatever is left as brute force, so a judgement does not depend on having seen the value.
"""

from __future__ import annotations

import math

MIN_SECRET_CHARS = 32
MIN_SECRET_BITS = 128
# zxcvbn refuses longer input: its matching grows quadratically with the length.
SCORED_CHARS = 72
GENERATE_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def estimated_bits(secret: str) -> float:
    """log2 of the guesses zxcvbn expects an attacker to need for ``secret``.

    Only the first ``SCORED_CHARS`` characters are scored. Guessing a whole key takes at
    least the guesses its start takes, so this errs low: a key whose start is weak is judged
    weak whatever follows. zxcvbn prices an unexplained character at 10 guesses (3.3 bits),
    so 128 bits takes about 39 random characters; ``token_urlsafe(48)`` has 64.
    """
    from zxcvbn import zxcvbn  # 60 ms of word lists: load them only when a key is set

    return float(zxcvbn(secret[:SCORED_CHARS])["guesses_log10"]) * math.log2(10)


def secret_key_problem(secret: str | None) -> str | None:
    """Why ``secret`` is unfit to sign sessions (too short, guessable); None if fine or unset."""
    if secret is None:
        return None
    if len(secret) < MIN_SECRET_CHARS:
        return f"is {len(secret)} characters long, shorter than {MIN_SECRET_CHARS}"
    bits = estimated_bits(secret)
    if bits < MIN_SECRET_BITS:
        return (
            f"is guessable: about 2^{bits:.0f} guesses by zxcvbn's estimate, "
            f"fewer than 2^{MIN_SECRET_BITS}"
        )
    return None
