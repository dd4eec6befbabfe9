"""How guessable a SECRET_KEY is: a repeated pattern, a keyboard walk or character sequence, or
too little randomness by a deterministic estimate. Pure (stdlib only); core.config refuses.
"""

from __future__ import annotations

import math
from collections import Counter

__all__ = ["secret_key_weakness"]


# A keyboard walk moves one way along one of these lines of a US keyboard (rows, then the
# slanted columns); a sequence moves one way in code-point order (abc, 123, cba); or it repeats
# one character. _WALK_STEPS maps a pair of neighbouring characters to the moves it makes.
_KEYBOARD_LINES = ("`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./", "1qaz", "2wsx",
                   "3edc", "4rfv", "5tgb", "6yhn", "7ujm", "8ik,", "9ol.", "0p;/")


def _keyboard_steps() -> dict[tuple[str, str], frozenset]:
    steps: dict[tuple[str, str], frozenset] = {}
    for number, line in enumerate(_KEYBOARD_LINES):
        for a, b in zip(line, line[1:]):
            steps[a, b] = steps.get((a, b), frozenset()) | {(number, 1)}
            steps[b, a] = steps.get((b, a), frozenset()) | {(number, -1)}
    return steps


_WALK_STEPS = _keyboard_steps()
_MIN_WALK = 4  # characters in a row, each the same move from the last, make a walk
_REPEAT = 4  # a character that ends a 4-character string seen earlier in the key is a repeat
_MIN_SECRET_BITS = 128


def _moves(a: str, b: str) -> frozenset:
    """The walk moves that lead from character a to b (empty: none)."""
    moves = _WALK_STEPS.get((a, b), frozenset())
    if a == b:
        moves |= {"same"}
    if abs(ord(b) - ord(a)) == 1:
        moves |= {("code point", ord(b) - ord(a))}
    return moves


def secret_key_weakness(secret: str) -> str | None:
    """Why `secret` is a guessable key, or None. Deterministic; three rules, in this order:

    1. "a short pattern repeated": the key is a shorter string repeated (any period up to half
       its length, a partial last repeat included), e.g. 0123456789 four times.
    2. "a keyboard walk or character sequence": half or more of its characters stand in walks,
       runs of 4+ characters each making the same move from the last (case ignored): along a
       keyboard row or column (qwerty..., asdf..., 1qaz2wsx...), in code-point order (0123...,
       abcd..., zyxw...), or the same character again (aaaa...); mixtures of them count alike.
    3. "too little randomness": an estimate below 128 bits, namely the Shannon entropy of the
       key's own character frequencies (bits per character) times the number of its characters
       that are neither in a walk nor the end of a 4-character string seen earlier in the key.

    Keys made as documented pass with a wide margin: over 10^5 draws secrets.token_urlsafe(48)
    scores about 330 bits (lowest ~290), token_hex(32) about 245 (lowest ~200); the tests draw
    thousands of each.
    """
    n = len(secret)
    border = [0] * n  # border[i]: longest proper prefix of secret[:i+1] that is also its suffix
    for i in range(1, n):
        k = border[i - 1]
        while k and secret[i] != secret[k]:
            k = border[k - 1]
        border[i] = k + (secret[i] == secret[k])
    if n and 2 * (n - border[-1]) <= n:  # n - border[-1] is the key's shortest period
        return "a short pattern repeated"
    lowered = secret.lower()
    in_walk = [False] * n
    start, moves = 0, frozenset()  # the current run is secret[start:i], all making `moves`
    for i in range(1, n + 1):
        step = _moves(lowered[i - 1], lowered[i]) if i < n else frozenset()
        if moves & step:
            moves &= step
            continue
        if i - start >= _MIN_WALK:
            in_walk[start:i] = [True] * (i - start)
        start, moves = (i - 1, step) if step else (i, frozenset())
    if 2 * sum(in_walk) >= n:
        return "a keyboard walk or character sequence"
    seen, fresh = set(), 0
    for i in range(n):
        gram = secret[max(0, i - _REPEAT + 1):i + 1]
        fresh += not in_walk[i] and not (len(gram) == _REPEAT and gram in seen)
        seen.add(gram)
    shannon = -sum(c / n * math.log2(c / n) for c in Counter(secret).values())
    if shannon * fresh < _MIN_SECRET_BITS:
        return "too little randomness (under 128 bits by the estimate in core/secret_key.py)"
    return None
