"""Signing in and out, joining through an invite, and `/api/me`."""

from __future__ import annotations

from starlette.responses import Response

from calma.access import accounts
from calma.access.invites import open_invite
from calma.access.principal import Principal
from calma.access.sessions import clear_session_cookie, end_session, set_session_cookie, start_session
from calma.access.tokens import TokenRejected
from calma.api import schemas
from calma.api.endpoints import Auth, Call, Endpoint, json_reply
from calma.api.problems import Problem, token_rejected

TAG = "session"
SET_COOKIE = {"Set-Cookie": "the session cookie `calma_session` (HttpOnly, SameSite=Lax; Secure over https)"}


async def sign_in(call: Call) -> Response:
    credentials = call.body_as(schemas.SignIn)
    principal = await accounts.sign_in(call.api.store, credentials.email, credentials.password)
    if principal is None:
        raise Problem("bad-credentials", "no facilitator has this email and password")
    return await _signed_in(call, principal, status=200)


async def sign_out(call: Call) -> Response:
    await end_session(call.api.store, call.request)
    response = Response(status_code=204)
    clear_session_cookie(response, call.request)
    return response


async def me(call: Call) -> Response:
    return json_reply(schemas.Me.of(call.user))


async def join(call: Call) -> Response:
    request = call.body_as(schemas.JoinRequest)
    try:
        principal = await open_invite(call.api.store, call.api.authenticator, request.token, request.display_name)
    except TokenRejected as exc:
        raise token_rejected(exc.problem) from exc
    return await _signed_in(call, principal, status=201)


async def _signed_in(call: Call, principal: Principal, status: int) -> Response:
    ttl_s = call.api.settings.session_ttl_s
    value, _ = await start_session(call.api.store, principal, now=call.api.now(), ttl_s=ttl_s)
    response = json_reply(schemas.Me.of(principal), status=status)
    set_session_cookie(response, call.request, value, ttl_s)
    return response


ENDPOINTS = [
    Endpoint(
        "POST", "/session", sign_in, "signIn", "Sign in as a facilitator (sets the session cookie)", TAG,
        response=schemas.Me, request=schemas.SignIn, auth=Auth.NONE, problems=(401,), response_headers=SET_COOKIE,
    ),
    Endpoint(
        "DELETE", "/session", sign_out, "signOut", "Sign out: end this browser's session and clear its cookie", TAG,
        status=204, auth=Auth.NONE,
    ),
    Endpoint(
        "POST", "/join", join, "join",
        "Open an invite: become a participant of its group (or an observer) and get a session cookie", TAG,
        status=201, response=schemas.Me, request=schemas.JoinRequest, auth=Auth.NONE, problems=(401,),
        response_headers=SET_COOKIE,
    ),
    Endpoint("GET", "/me", me, "me", "Who this session or token is", TAG, response=schemas.Me),
]  # fmt: skip
