"""From a cookie or a token to a `Principal`.

HTTP requests authenticate with the session cookie or `Authorization: Bearer
<token>`; websockets with `?token=` (browsers cannot set headers on them) or
the session cookie. A token given explicitly wins over the cookie. A session
cookie on a websocket is accepted only when the handshake's Origin is this
server (cross-site websocket hijacking).

A websocket stays open after its handshake, so the authenticator also keeps
`connections` (`calma.access.live_connections`): the keys of the credential each
open websocket was let in with (`websocket_credential`), which the paths that
revoke credentials use to close them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from calma.access.live_connections import (
    LiveConnections,
    facilitator_sessions_key,
    invite_key,
    participant_sessions_key,
    session_key,
)
from calma.access.principal import Principal
from calma.access.sessions import MAX_COOKIE_LENGTH, SESSION_COOKIE, session_hash
from calma.access.tokens import TokenProblem, TokenRejected, TokenSigner
from calma.studies.model import Invite, Role, SessionRecord
from calma.studies.store import StudyStore


class AuthenticationError(Exception):
    """Credentials were given but cannot be accepted; the message says why."""


class Authenticator:
    def __init__(self, store: StudyStore, signer: TokenSigner, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._signer = signer
        self._clock = clock
        self.connections = LiveConnections()  # open websockets by credential, to close them when it is revoked

    @property
    def signer(self) -> TokenSigner:
        return self._signer

    def now(self) -> float:
        return self._clock()

    async def http(self, connection: HTTPConnection) -> Principal | None:
        """The principal of an HTTP request; None if it carries no (live) session and no token.

        A bearer token that is not accepted raises TokenRejected: the caller meant to authenticate.
        """
        authorization = connection.headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthenticationError("the Authorization header must be `Bearer <token>`")
            return await self.token(token.strip())
        return await self._cookie(connection)

    async def websocket(self, connection: HTTPConnection) -> Principal | None:
        """The principal of a websocket handshake; None if it carries neither a token nor a live session."""
        principal, _ = await self.websocket_credential(connection)
        return principal

    async def websocket_credential(self, connection: HTTPConnection) -> tuple[Principal | None, frozenset[str]]:
        """The principal of a websocket handshake and the keys of the credential that proved it
        (`calma.access.live_connections`): register the open connection under them."""
        token = connection.query_params.get("token")
        if token is not None:
            invite = await self.live_invite(token)
            principal = await self._principal_of_invite(invite)
            if principal is None:
                raise TokenRejected(TokenProblem.UNKNOWN_INVITE)
            return principal, frozenset({invite_key(invite.id)})
        if SESSION_COOKIE in connection.cookies and not _same_origin(connection):
            raise AuthenticationError("a session cookie is accepted only from this server's own pages")
        value = connection.cookies.get(SESSION_COOKIE)
        if not value or len(value) > MAX_COOKIE_LENGTH:
            return None, frozenset()
        hashed = session_hash(value)
        record = await self._store.session(hashed, self.now())
        principal = None if record is None else await self._principal_of_session(record)
        if record is None or principal is None:
            return None, frozenset()
        keys = {session_key(hashed)}
        if record.participant_id is not None:
            keys.add(participant_sessions_key(record.participant_id))
        if record.facilitator_id is not None:
            keys.add(facilitator_sessions_key(record.facilitator_id))
        return principal, frozenset(keys)

    async def credential_live(self, key: str) -> bool:
        """Whether the session or invite a `calma.access.live_connections` key names is still accepted."""
        kind, _, value = key.partition(":")
        if kind == "session":
            return await self._store.session(value, self.now()) is not None
        if kind == "invite":
            invite = await self._store.invite(value)
            return invite is not None and not invite.revoked and not invite.expired(self.now())
        raise ValueError(f"not a credential key: {key!r}")

    async def token(self, token: str) -> Principal:
        """The principal a token stands for; TokenRejected if it is not valid now or is only an invite link."""
        invite = await self.live_invite(token)
        principal = await self._principal_of_invite(invite)
        if principal is None:
            raise TokenRejected(TokenProblem.UNKNOWN_INVITE)
        return principal

    async def live_invite(self, token: str) -> Invite:
        """The invite of a correctly signed token, unless expired or revoked (TokenRejected)."""
        now = self.now()
        claims = self._signer.verify(token, now)
        invite = await self._store.invite(claims.invite_id)
        if invite is None:
            raise TokenRejected(TokenProblem.UNKNOWN_INVITE)
        if invite.revoked:
            raise TokenRejected(TokenProblem.REVOKED)
        if invite.expired(now):
            raise TokenRejected(TokenProblem.EXPIRED)
        return invite

    async def _principal_of_invite(self, invite: Invite) -> Principal | None:
        if invite.role is Role.FACILITATOR:
            study = await self._store.study(invite.study_id)
            facilitator = None if study is None else await self._store.facilitator(study.owner_id)
            if facilitator is None:
                return None
            return Principal.of_facilitator(facilitator, invite.study_id)
        if invite.role is Role.OBSERVER:
            return Principal(Role.OBSERVER, "observer", study_id=invite.study_id, group_id=invite.group_id)
        if invite.participant_id is None:
            raise TokenRejected(TokenProblem.NOT_AN_IDENTITY)
        participant = await self._store.participant(invite.participant_id)
        if participant is None:
            return None
        return Principal.of_participant(participant)

    async def _cookie(self, connection: HTTPConnection) -> Principal | None:
        value = connection.cookies.get(SESSION_COOKIE)
        if not value or len(value) > MAX_COOKIE_LENGTH:
            return None
        record = await self._store.session(session_hash(value), self.now())
        return None if record is None else await self._principal_of_session(record)

    async def _principal_of_session(self, record: SessionRecord) -> Principal | None:
        if record.role is Role.FACILITATOR:
            if record.facilitator_id is None:
                return None
            facilitator = await self._store.facilitator(record.facilitator_id)
            if facilitator is None:
                return None
            return Principal.of_facilitator(facilitator, record.study_id)
        if record.role is Role.OBSERVER:
            return Principal(Role.OBSERVER, record.display_name, study_id=record.study_id, group_id=record.group_id)
        participant = None if record.participant_id is None else await self._store.participant(record.participant_id)
        if participant is None:
            return None
        return Principal.of_participant(participant)


def _same_origin(connection: HTTPConnection) -> bool:
    """True when the handshake has no Origin (not a browser) or its Origin is the Host it connected to."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    host = connection.headers.get("host", "")
    try:
        return urlsplit(origin).netloc.lower() == host.lower()
    except ValueError:  # not a URL at all
        return False
