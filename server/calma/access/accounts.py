"""Facilitator accounts: creating them, signing in and setting a new password."""

from __future__ import annotations

import re

from calma.access import passwords
from calma.access.principal import Principal
from calma.studies.model import Facilitator
from calma.studies.store import StudyStore
from calma.studies.text import display_name

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class InvalidAccount(ValueError):
    """An email, name or password that cannot be used; the message says why."""


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or _EMAIL.fullmatch(email) is None:
        raise InvalidAccount(f"{email!r} is not an email address")
    return email


async def create_facilitator(store: StudyStore, email: str, name: str, password: str) -> Facilitator:
    """A new facilitator; AlreadyExists if the email is taken, InvalidAccount for bad input."""
    email = normalize_email(email)
    try:
        name = display_name(name, MAX_NAME_LENGTH)  # as a participant's: NFKC, no invisible characters, trimmed
    except ValueError as exc:
        raise InvalidAccount(f"a name needs 1 to {MAX_NAME_LENGTH} visible characters: {exc}") from exc
    try:
        password_hash = await passwords.hash_password(password)
    except passwords.WeakPassword as exc:
        raise InvalidAccount(str(exc)) from exc
    return await store.create_facilitator(email, name, password_hash)


async def sign_in(store: StudyStore, email: str, password: str) -> Principal | None:
    """The facilitator with these credentials, or None (the same time is spent either way)."""
    account = await store.facilitator_account(email.strip().lower())
    if account is None:
        await passwords.spend_verify_time(password)
        return None
    if not await passwords.verify_password(account.password_hash, password):
        return None
    if passwords.needs_rehash(account.password_hash):
        await store.set_password_hash(account.facilitator.id, await passwords.rehash_password(password))
    facilitator = account.facilitator
    return Principal.of_facilitator(facilitator)


async def set_password(store: StudyStore, email: str, password: str) -> Facilitator | None:
    """Give the facilitator with this email a new password; None if there is none. InvalidAccount for a weak one."""
    account = await store.facilitator_account(normalize_email(email))
    if account is None:
        return None
    try:
        password_hash = await passwords.hash_password(password)
    except passwords.WeakPassword as exc:
        raise InvalidAccount(str(exc)) from exc
    await store.set_password_hash(account.facilitator.id, password_hash)
    return account.facilitator
