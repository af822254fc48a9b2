"""Passwords and sign-in rules of ``app.users.service``."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from argon2 import PasswordHasher, profiles

from app.audit.service import CLI
from app.db import Database
from app.errors import AppError
from app.users import service
from app.users.service import _DUMMY_PASSWORD
from app.web.ratelimit import LoginLimiter
from tests.server import ROOT


def test_an_account_without_a_password_never_signs_in(db: Database) -> None:
    with db.writer() as session, session.begin():
        service.create_user(session, name="bot", role="admin")
    with db.writer() as session, session.begin():
        # the string the sign-in check hashes when there is nothing to compare with
        assert service.authenticate(session, "bot", _DUMMY_PASSWORD) is None
        assert service.authenticate(session, "bot", "") is None


def test_sign_in_costs_one_hash_whether_or_not_the_account_can_sign_in(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.writer() as session, session.begin():
        service.create_user(session, name="bot", role="annotator")
        service.create_user(session, name="ada", role="annotator", password="ada-password")
    calls: list[str] = []
    verify = PasswordHasher.verify

    def counting(self: PasswordHasher, hash: str, password: str) -> bool:
        calls.append(password)
        return verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    with db.writer() as session, session.begin():
        for name in ("nobody", "bot", "ada"):
            service.authenticate(session, name, "a-guess")
    assert len(calls) == 3  # one argon2 verification each: no early answer to time


def test_a_disabled_user_cannot_sign_in_until_enabled(db: Database) -> None:
    with db.writer() as session, session.begin():
        user, _ = service.create_user(session, name="ada", role="annotator", password="pw-ada-123")
        service.set_disabled(session, user, True, actor=CLI)
    with db.writer() as session, session.begin():
        assert service.authenticate(session, "ada", "pw-ada-123") is None
        service.set_disabled(session, service.get_user(session, user.id), False, actor=CLI)
    with db.writer() as session, session.begin():
        assert service.authenticate(session, "ada", "pw-ada-123") is not None


def test_changing_a_password_needs_the_current_one(db: Database) -> None:
    lockout = LoginLimiter(5, 300)
    with db.writer() as session, session.begin():
        user, _ = service.create_user(session, name="ada", role="annotator", password="pw-ada-123")
    with db.writer() as session, session.begin():
        me = service.get_user(session, user.id)
        with pytest.raises(service.Invalid, match="current password"):
            service.change_password(
                session, me, current="wrong", new="new-password", actor=CLI, lockout=lockout
            )
        service.change_password(
            session, me, current="pw-ada-123", new="new-password", actor=CLI, lockout=lockout
        )
    with db.writer() as session, session.begin():
        assert service.authenticate(session, "ada", "new-password") is not None
        assert service.authenticate(session, "ada", "pw-ada-123") is None


def test_passwords_are_stored_as_argon2id(db: Database) -> None:
    with db.writer() as session, session.begin():
        user, _ = service.create_user(session, name="ada", role="annotator", password="pw-ada-123")
        assert user.password_hash and user.password_hash.startswith("$argon2id$")
        assert "pw-ada-123" not in user.password_hash


def _hash_in_a_new_process(weak: str | None) -> str:
    """A hash of "pw-ada-123" made by a fresh interpreter, the test switch set to ``weak``."""
    env = {k: v for k, v in os.environ.items() if k != service.WEAK_HASHES_VARIABLE}
    if weak is not None:
        env[service.WEAK_HASHES_VARIABLE] = weak
    code = "from app.users import service; print(service._hasher.hash('pw-ada-123'))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_passwords_hash_at_argon2s_default_cost_unless_the_test_switch_is_on() -> None:
    """The suite's cheap hashes are opt-in: without the variable (or with anything but 1) a
    process uses argon2-cffi's defaults (64 MiB, 3 passes, 4 lanes); a hash of either cost
    verifies under the other hasher, since its parameters are in the hash."""
    default = "$argon2id$v=19$m=65536,t=3,p=4$"
    real, weak = _hash_in_a_new_process(None), _hash_in_a_new_process("1")
    assert real.startswith(default)
    assert _hash_in_a_new_process("0").startswith(default)
    assert weak.startswith("$argon2id$") and not weak.startswith(default)
    assert PasswordHasher().verify(weak, "pw-ada-123")
    assert PasswordHasher.from_parameters(profiles.CHEAPEST).verify(real, "pw-ada-123")


@pytest.mark.parametrize(
    "name,problem",
    [
        ("ad\u200bmin", "invisible or control character U+200B"),
        ("admin\u202e", "invisible or control character U+202E"),
        ("ADMIN", "looks like the existing user 'admin'"),
        ("\uff41\uff44\uff4d\uff49\uff4e", "looks like the existing user 'admin'"),
    ],
)
def test_user_names_cannot_imitate_others(db: Database, name: str, problem: str) -> None:
    with db.writer() as session, session.begin():
        service.create_user(session, name="admin", role="admin")
    with db.writer() as session, session.begin(), pytest.raises(AppError, match=re.escape(problem)):
        service.create_user(session, name=name, role="admin")


def test_user_names_are_stored_in_nfc(db: Database) -> None:
    with db.writer() as session, session.begin():
        user, _ = service.create_user(session, name="Jose\u0301", role="annotator")
        assert user.name == "Jos\u00e9"
