"""Password hashing (argon2id) and the rules a new password must meet.

Long passphrases are welcome (any length up to MAX_LENGTH); what is refused is what
attackers try first: the 30,000 most common passwords shipped with zxcvbn, anything
built on the user's own name, and passwords zxcvbn rates as guessable.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 10
MAX_LENGTH = 1024
MIN_SCORE = 2
# zxcvbn's work grows fast with length; a long passphrase is judged on its start.
SCORED_PREFIX = 64

_hasher = PasswordHasher()  # argon2id with the library's current recommended cost
_common = frozenset(FREQUENCY_LISTS["passwords"])


class PasswordRejected(ValueError):
    """A new password breaks a rule; the message says which."""


def check_password(password: str, *, username: str = "") -> None:
    """Raise PasswordRejected unless the password may be set for this user."""
    if len(password) < MIN_LENGTH:
        msg = f"the password must have at least {MIN_LENGTH} characters"
        raise PasswordRejected(msg)
    if len(password) > MAX_LENGTH:
        msg = f"the password must have at most {MAX_LENGTH} characters"
        raise PasswordRejected(msg)
    lowered = password.lower()
    if lowered in _common:
        msg = "this password is among the most common ones; choose another"
        raise PasswordRejected(msg)
    if username and len(username) >= 3 and username.lower() in lowered:
        msg = "the password must not contain the user name"
        raise PasswordRejected(msg)
    score = zxcvbn(password[:SCORED_PREFIX], user_inputs=[username] if username else [])["score"]
    if score < MIN_SCORE:
        msg = "this password is too easy to guess; a few unrelated words make a good one"
        raise PasswordRejected(msg)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when the password matches; never raises for a wrong or malformed hash."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)


def generate_password() -> str:
    """A random password that passes the rules, for accounts created without one."""
    return secrets.token_urlsafe(18)
