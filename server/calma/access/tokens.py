"""Signed tokens: `c1.<invite id>.<expires at>.<signature>`.

The signature is HMAC-SHA256, keyed with the server secret, over the version,
the invite id and the expiry (Unix seconds), in unpadded base64url. A token
says only which invite it stands for and until when; the invite in the store
says what it grants (role, study, group, participant) and whether it has been
revoked. Every part is URL-safe, so a token can travel as `?token=`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

VERSION = "c1"
MAX_TOKEN_LENGTH = 256
_SHAPE = re.compile(r"^c1\.([0-9a-f]{16})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


class TokenProblem(StrEnum):
    MALFORMED = "malformed"  # not shaped like a token at all
    BAD_SIGNATURE = "bad-signature"  # forged, or altered after signing
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN_INVITE = "unknown-invite"  # signed by us, but its invite is gone
    NOT_AN_IDENTITY = "not-an-identity"  # an invite link used where an identity is needed

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    TokenProblem.MALFORMED: "the token is not a CALMA token",
    TokenProblem.BAD_SIGNATURE: "the token's signature does not match: it was forged or altered",
    TokenProblem.EXPIRED: "the token has expired; ask for a new link",
    TokenProblem.REVOKED: "the token has been revoked; ask for a new link",
    TokenProblem.UNKNOWN_INVITE: "the token's invite no longer exists",
    TokenProblem.NOT_AN_IDENTITY: "this is an invite link: open it to join (POST /api/join) before using the study",
}


class TokenRejected(Exception):
    """A token that may not be used; `problem` says why."""

    def __init__(self, problem: TokenProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class TokenClaims:
    invite_id: str
    expires_at: int


class TokenSigner:
    """Signs and checks tokens with one server secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the token secret needs at least 32 bytes")
        self._secret = secret

    def sign(self, invite_id: str, expires_at: int) -> str:
        return f"{VERSION}.{invite_id}.{expires_at}.{self._mac(invite_id, expires_at)}"

    def verify(self, token: str, now: float) -> TokenClaims:
        """The claims of a well-formed, correctly signed, unexpired token; TokenRejected otherwise."""
        match = _SHAPE.fullmatch(token) if len(token) <= MAX_TOKEN_LENGTH else None
        if match is None:
            raise TokenRejected(TokenProblem.MALFORMED)
        invite_id, expires_text, signature = match.groups()
        expires_at = int(expires_text)
        if not hmac.compare_digest(signature, self._mac(invite_id, expires_at)):
            raise TokenRejected(TokenProblem.BAD_SIGNATURE)
        if expires_at <= now:
            raise TokenRejected(TokenProblem.EXPIRED)
        return TokenClaims(invite_id, expires_at)

    def _mac(self, invite_id: str, expires_at: int) -> str:
        message = f"calma-token.{VERSION}.{invite_id}.{expires_at}".encode("ascii")
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
