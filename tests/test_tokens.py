"""Tokens that must not work: expired, forged, tampered with, revoked, or not tokens at all.

Each is refused on the API (401, a problem naming why) and on a room's
websocket handshake (close 4401 with the reason), and an invite link that is
expired or revoked lets nobody join.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from calma.access.tokens import TokenSigner
from tests.helpers.admin import admin_token
from tests.helpers.room_probe import READ_ONLY, close_reason, probe_room
from tests.helpers.server import ServerProcess
from tests.helpers.study_world import World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = ServerProcess(tmp_path_factory.mktemp("tokens") / "data")
    server.start()
    try:
        yield build_world(server)
    finally:
        server.stop()


def ravi_token(world: World, ttl: int | None = None) -> str:
    ids = world.ids
    return admin_token(world.server.data_dir, study=ids["S"], group=ids["GA"], role="participant", name="Ravi", ttl=ttl)


def tampered(token: str) -> str:
    """The same token with its expiry pushed a year later (the signature is left as it was)."""
    version, invite_id, expires, signature = token.split(".")
    return ".".join((version, invite_id, str(int(expires) + 365 * 24 * 3600), signature))


def forged(token: str) -> str:
    """A token for the same invite and expiry, signed with a secret that is not the server's."""
    _, invite_id, expires, _ = token.split(".")
    return TokenSigner(os.urandom(32)).sign(invite_id, int(expires))


def revoked(world: World, token: str) -> str:
    invite_id = token.split(".")[1]
    revoked_invite = world.owner.ok("POST", world.path(f"/api/studies/{{S}}/invites/{invite_id}/revoke"))
    assert revoked_invite["status"] == "revoked" and revoked_invite["revoked_at"]
    return token


BAD_TOKENS = {
    "expired": ("token-expired", "expired", lambda world: ravi_token(world, ttl=0)),
    "tampered": ("token-bad-signature", "forged or altered", lambda world: tampered(ravi_token(world))),
    "forged": ("token-bad-signature", "forged or altered", lambda world: forged(ravi_token(world))),
    "revoked": ("token-revoked", "revoked", lambda world: revoked(world, ravi_token(world))),
    "not a token": ("token-malformed", "not a CALMA token", lambda world: "hello"),
    "an invite link": ("token-not-an-identity", "invite link", lambda world: invite_link_token(world)),
}


def invite_link_token(world: World) -> str:
    created = world.owner.ok("POST", world.path("/api/studies/{S}/invites"), {"group_id": world.ids["GA"]}, status=201)
    token: str = created["token"]
    return token


def test_a_good_token_works_everywhere_first(world: World) -> None:
    token = ravi_token(world)
    assert world.anonymous.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["name"] == "Ravi"


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_a_bad_token_is_refused_by_the_api(world: World, kind: str) -> None:
    slug, words, make = BAD_TOKENS[kind]
    response = world.anonymous.get("/api/me", headers={"Authorization": f"Bearer {make(world)}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"/api/problems/{slug}"
    assert words in problem["detail"]
    assert "invalid_token" in response.headers["www-authenticate"]


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_a_bad_token_is_refused_by_a_room(world: World, kind: str) -> None:
    _, words, make = BAD_TOKENS[kind]
    room = world.server.room_url(world.path("study-{S}.group-{GA}.board"))
    code, reason = await close_reason(f"{room}?token={make(world)}")
    assert code == 4401
    assert words in reason


async def test_a_bad_token_is_not_rescued_by_a_good_cookie(world: World) -> None:
    """An explicit token is what the client meant; a cookie does not stand in for it."""
    room = world.server.room_url(world.path("study-{S}.group-{GA}.board"))
    code, _ = await close_reason(f"{room}?token=hello", world.participant_a.cookie_headers)
    assert code == 4401
    assert await probe_room(room, world.participant_a.cookie_headers) == READ_ONLY  # admitted; boards are read-only


def test_an_expired_or_revoked_invite_link_lets_nobody_join(world: World) -> None:
    ids = world.ids
    expired = admin_token(world.server.data_dir, study=ids["S"], group=ids["GA"], role="observer", ttl=0)
    link = invite_link_token(world)
    revoked(world, link)
    for token, slug in ((expired, "token-expired"), (link, "token-revoked"), ("c1.junk", "token-malformed")):
        response = world.anonymous.post("/api/join", {"token": token, "display_name": "Late"})
        assert response.status_code == 401, response.text
        assert response.json()["type"] == f"/api/problems/{slug}"
        assert "set-cookie" not in response.headers
    names = {p["display_name"] for p in world.owner.ok("GET", world.path("/api/studies/{S}/participants"))["participants"]}
    assert "Late" not in names


def test_revoking_a_link_keeps_those_who_joined_through_it(world: World) -> None:
    link = invite_link_token(world)
    early = world.anonymous.post("/api/join", {"token": link, "display_name": "Early"})
    assert early.status_code == 201
    revoked(world, link)
    cookie = {"Cookie": f"calma_session={early.cookies['calma_session']}"}
    assert world.anonymous.get("/api/me", headers=cookie).json()["name"] == "Early"


def test_signing_out_ends_the_session_on_the_server(world: World) -> None:
    joined = world.anonymous.post("/api/join", {"token": invite_link_token(world), "display_name": "Brief"})
    cookie = {"Cookie": f"calma_session={joined.cookies['calma_session']}"}
    assert world.anonymous.get("/api/me", headers=cookie).status_code == 200
    signed_out = world.anonymous.request("DELETE", "/api/session", headers=cookie)
    assert signed_out.status_code == 204
    assert 'calma_session=""' in signed_out.headers["set-cookie"] or "Max-Age=0" in signed_out.headers["set-cookie"]
    again = world.anonymous.get("/api/me", headers=cookie)  # the same cookie, replayed
    assert again.status_code == 401 and again.json()["type"] == "/api/problems/unauthenticated"


def test_the_session_cookie_is_http_only_and_same_site(world: World) -> None:
    response = world.anonymous.post("/api/session", {"email": "ana@example.org", "password": "ana's long password"})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http here
    behind_tls = world.anonymous.post(
        "/api/session",
        {"email": "ana@example.org", "password": "ana's long password"},
        headers={"X-Forwarded-Proto": "https"},  # as a TLS-terminating proxy on this host says
    )
    assert "secure" in behind_tls.headers["set-cookie"].lower()


def test_a_wrong_password_and_an_unknown_email_look_the_same(world: World) -> None:
    wrong = world.anonymous.post("/api/session", {"email": "ana@example.org", "password": "not it at all"})
    unknown = world.anonymous.post("/api/session", {"email": "nobody@example.org", "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert "set-cookie" not in wrong.headers
