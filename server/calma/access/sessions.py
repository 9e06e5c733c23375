"""Browser sessions: an opaque random cookie; the store keeps only its SHA-256.

The cookie `calma_session` is HttpOnly (scripts cannot read it), SameSite=Lax
(other sites' forms and websockets do not carry it), Path=/, and Secure when
the request came over https. Signing out deletes the stored session, so a
copied cookie stops working too; signing out everywhere deletes every
session of the facilitator.
"""

from __future__ import annotations

import hashlib
import secrets

from starlette.requests import HTTPConnection
from starlette.responses import Response

from calma.access.live_connections import LiveConnections, facilitator_sessions_key, session_key
from calma.access.principal import Principal
from calma.studies.model import SessionRecord
from calma.studies.store import StudyStore

SESSION_COOKIE = "calma_session"
MAX_COOKIE_LENGTH = 128


def session_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


async def start_session(store: StudyStore, principal: Principal, *, now: float, ttl_s: float) -> tuple[str, SessionRecord]:
    """Store a new session for `principal`; returns the cookie value and the record."""
    value = secrets.token_urlsafe(32)
    record = SessionRecord(
        role=principal.role,
        created_at=now,
        expires_at=now + ttl_s,
        facilitator_id=principal.facilitator_id,
        participant_id=principal.participant_id,
        study_id=principal.study_id,
        group_id=principal.group_id,
        display_name=principal.name,
    )
    await store.create_session(session_hash(value), record)
    return value, record


async def end_session(store: StudyStore, connection: HTTPConnection, connections: LiveConnections) -> None:
    """End this browser's session; its open websockets close (4401)."""
    value = connection.cookies.get(SESSION_COOKIE)
    if value:
        hashed = session_hash(value)
        await store.delete_session(hashed)
        await connections.revoke([session_key(hashed)], "signed out")


async def end_all_sessions(store: StudyStore, facilitator_id: str, connections: LiveConnections) -> int:
    """End every session of a facilitator, on every device, and close their open websockets (4401) on every
    node; how many sessions ended."""
    ended = await store.delete_sessions_of(facilitator_id)
    await connections.revoke([facilitator_sessions_key(facilitator_id)], "signed out everywhere")
    return ended


def set_session_cookie(response: Response, connection: HTTPConnection, value: str, max_age_s: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age_s,
        path="/",
        httponly=True,
        samesite="lax",
        secure=connection.url.scheme in ("https", "wss"),
    )


def clear_session_cookie(response: Response, connection: HTTPConnection) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=connection.url.scheme in ("https", "wss")
    )
