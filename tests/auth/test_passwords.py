"""Password rules and hashing, without an app."""

from __future__ import annotations

import pytest

from patrolmap.auth.passwords import (
    PasswordRejected,
    check_password,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)


@pytest.mark.parametrize(("password", "reason"), [
    ("short1!", "at least 10 characters"),
    ("password123", "most common"),
    ("qwertyuiop", "most common"),
    ("Iloveyou123", "most common"),
    ("zhangwei2026!", "user name"),
    ("aaaaaaaaaaaaaaaa", "too easy"),
    ("x" * 64, "too easy"),
    ("y" * 1025, "at most 1024"),
])
def test_weak_passwords_are_refused(password: str, reason: str) -> None:
    with pytest.raises(PasswordRejected, match=reason):
        check_password(password, username="zhangwei")


@pytest.mark.parametrize("password", [
    "correct horse battery staple",
    "保卫处夜班巡逻 东门到三食堂 2026",
    "Lantern-Oxbow-Mistral-42",
    # A long passphrase of 64+ characters is welcome.
    "the north gate closes at eleven but the canteen lights stay on until one in the morning",
    generate_password(),
])
def test_good_passwords_pass(password: str) -> None:
    check_password(password, username="zhangwei")


def test_hashes_are_argon2id_and_verify() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery staple")
    assert not verify_password(stored, "correct horse battery stapl")
    assert not verify_password("not a hash", "anything")
    assert not needs_rehash(stored)
    assert hash_password("same") != hash_password("same"), "salted"
