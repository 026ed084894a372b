"""Sign-in, server-side sessions and the login rate limit.

Sessions live in the database, not in a signed cookie: logout, idle timeout and
absolute timeout end them for good, on every app server sharing the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from patrolmap.auth.passwords import hash_password, needs_rehash, verify_password
from patrolmap.database import write_transaction
from patrolmap.models import ApiToken, AuditEntry, LoginAttempt, LoginSession, User, utcnow

# Compared against when the user name is unknown, so that a miss takes as long as a hit.
_DUMMY_HASH = hash_password("patrolmap-dummy-password")
# last_seen_at is written at most this often, so that reading pages does not mean writing.
TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class SessionPolicy:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=12)
    window: dt.timedelta = dt.timedelta(minutes=15)
    per_account: int = 5
    per_address: int = 20


class LoginRefused(Exception):
    """Wrong user name or password (the message never says which)."""


class TooManyAttempts(Exception):
    """Too many failed sign-ins for this account or address; try again later."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _failures(session: Session, column: object, value: str, since: dt.datetime) -> int:
    stmt = select(func.count()).select_from(LoginAttempt).where(
        column == value, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False))
    return int(session.scalar(stmt) or 0)


def sign_in(session: Session, username: str, password: str, address: str,
            policy: SessionPolicy) -> tuple[str, LoginSession]:
    """Check the password and open a session; return the cookie token and the session row."""
    since = utcnow() - policy.window
    username = username.strip()[:64]
    address = address[:64]
    limited = (_failures(session, LoginAttempt.username, username, since) >= policy.per_account
               or _failures(session, LoginAttempt.address, address, since) >= policy.per_address)
    user = session.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    with write_transaction(session):
        session.add(LoginAttempt(username=username, address=address, succeeded=ok and not limited))
        if ok and not limited and user is not None:
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            token = secrets.token_urlsafe(32)
            row = LoginSession(token_hash=token_hash(token), csrf_token=secrets.token_urlsafe(32),
                               user_id=user.id, address=address)
            session.add(row)
    if limited:
        raise TooManyAttempts
    if not ok or user is None:
        raise LoginRefused
    return token, row


def current_session(session: Session, token: str | None, policy: SessionPolicy) -> LoginSession | None:
    """The live session for a cookie token, ending it here if it has timed out."""
    if not token:
        return None
    row = session.scalars(select(LoginSession).where(LoginSession.token_hash == token_hash(token))).first()
    if row is None or row.ended_at is not None:
        return None
    now = utcnow()
    if now - row.last_seen_at > policy.idle or now - row.created_at > policy.absolute:
        end_session(session, row.id)
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row_id = row.id
        with write_transaction(session):
            session.execute(update(LoginSession).where(LoginSession.id == row_id).values(last_seen_at=now))
        row = session.get(LoginSession, row_id)
    return row


def end_session(session: Session, session_id: int) -> None:
    with write_transaction(session):
        session.execute(update(LoginSession).where(LoginSession.id == session_id, LoginSession.ended_at.is_(None))
                        .values(ended_at=utcnow()))


def create_api_token(session: Session, user: User, name: str, *, actor: str = "cli") -> tuple[str, ApiToken]:
    """A new token for a user; the token itself is returned once and never stored."""
    token = "pm_" + secrets.token_urlsafe(32)
    row = ApiToken(token_hash=token_hash(token), user_id=user.id, name=name)
    with write_transaction(session):
        session.add(row)
        session.flush()
        session.add(AuditEntry(actor=actor, action="create", layer="api-tokens", feature_id=row.id,
                               after={"user": user.username, "name": name}, reason="API token issued"))
    return token, row


def user_for_token(session: Session, token: str) -> User | None:
    """The active user behind a live (unrevoked) API token."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                                 ApiToken.revoked_at.is_(None))).first()
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def revoke_api_token(session: Session, token_id: int, *, actor: str = "cli") -> bool:
    with write_transaction(session):
        result = session.execute(update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                                 .values(revoked_at=utcnow()))
        if result.rowcount == 1:
            session.add(AuditEntry(actor=actor, action="revoke", layer="api-tokens", feature_id=token_id,
                                   reason="API token revoked"))
    return result.rowcount == 1
