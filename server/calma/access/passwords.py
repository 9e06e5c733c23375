"""Facilitator passwords: Argon2id hashes (argon2-cffi, RFC 9106 low-memory parameters).

Hashing costs ~64 MiB and tens of milliseconds, so it runs in worker threads,
at most two at a time, never on the event loop.
"""

from __future__ import annotations

import anyio
from argon2 import PasswordHasher, Type
from argon2.exceptions import VerifyMismatchError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher(type=Type.ID)
_limiter = anyio.CapacityLimiter(2)
_dummy_hash: str | None = None


class WeakPassword(ValueError):
    """The password does not meet the length rules; the message says which."""


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")


def hash_password_sync(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(hash_password_sync, password, limiter=_limiter)


async def verify_password(password_hash: str, password: str) -> bool:
    """True if the password matches. A malformed stored hash raises (argon2's InvalidHashError)."""

    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except VerifyMismatchError:
            return False

    return await anyio.to_thread.run_sync(verify, limiter=_limiter)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


async def rehash_password(password: str) -> str:
    """A hash with the current parameters of a password that was already accepted (no rules checked)."""
    return await anyio.to_thread.run_sync(_hasher.hash, password, limiter=_limiter)


async def spend_verify_time(password: str) -> None:
    """Verify against a throwaway hash, so an unknown email takes as long as a wrong password."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = await anyio.to_thread.run_sync(_hasher.hash, "not a real password", limiter=_limiter)
    await verify_password(_dummy_hash, password[:MAX_PASSWORD_LENGTH])
