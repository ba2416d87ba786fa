from __future__ import annotations

import secrets

# No 0/o, 1/l: people read these codes aloud and type them from screenshots.
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
CODE_LENGTH = 10


def new_referral_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))
