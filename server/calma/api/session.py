"""Signing in and out, joining through an invite (and what an invite is for), `/api/me` and `/api/session`.

Sign-ins are throttled per account and per client address (`calma.access.throttle`): while a delay
runs, every attempt is refused with 429 and `Retry-After`, the right password included, before any
password is checked. A facilitator can end every session of theirs at once (`/api/session/revoke-all`).
"""

from __future__ import annotations

import math

from starlette.responses import Response

from calma.access import accounts
from calma.access.display_names import NameTaken
from calma.access.invites import InviteUsedUp, open_invite
from calma.access.principal import Principal
from calma.access.sessions import clear_session_cookie, end_all_sessions, end_session, set_session_cookie, start_session
from calma.access.throttle import Throttled
from calma.access.tokens import TokenProblem, TokenRejected
from calma.api import schemas
from calma.api.endpoints import Auth, Call, Endpoint, json_reply
from calma.api.problems import Problem, conflict, token_rejected

TAG = "session"
SET_COOKIE = {"Set-Cookie": "the session cookie `calma_session` (HttpOnly, SameSite=Lax; Secure over https)"}


async def sign_in(call: Call) -> Response:
    credentials = call.body_as(schemas.SignIn)
    address = None if call.request.client is None else call.request.client.host
    throttle = call.api.sign_ins
    try:
        await throttle.attempt(credentials.email, address, call.api.now())
    except Throttled as exc:
        seconds = max(1, math.ceil(exc.retry_after_s))
        raise Problem(
            "sign-in-throttled",
            f"too many failed sign-ins on this account or from this address; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        ) from exc
    principal = await accounts.sign_in(call.api.store, credentials.email, credentials.password)
    if principal is None:
        await throttle.failed(credentials.email, address, call.api.now())
        raise Problem("bad-credentials", "no facilitator has this email and password")
    await throttle.succeeded(credentials.email, address)
    return await _signed_in(call, principal, status=200)


async def sign_out_everywhere(call: Call) -> Response:
    """End every session of the signed-in facilitator (this browser's too) and clear this browser's cookie."""
    user = call.user
    facilitator_id = user.facilitator_id
    if not user.is_facilitator or facilitator_id is None:
        raise Problem("forbidden", "only a facilitator can sign out everywhere; participants sign out with DELETE /api/session")
    if user.study_id is not None:
        raise Problem("forbidden", "a credential limited to one study cannot sign the account out everywhere; sign in with the password")
    ended = await end_all_sessions(call.api.store, facilitator_id, call.api.authenticator.connections)
    response = json_reply(schemas.SignedOutEverywhere(sessions_ended=ended))
    clear_session_cookie(response, call.request)
    return response


async def sign_out(call: Call) -> Response:
    await end_session(call.api.store, call.request, call.api.authenticator.connections)
    response = Response(status_code=204)
    clear_session_cookie(response, call.request)
    return response


async def me(call: Call) -> Response:
    return json_reply(schemas.Me.of(call.user))


async def session_state(call: Call) -> Response:
    """Like /api/me, but signed out is an answer (200), not a failure: for pages deciding what to show."""
    principal = call.principal
    me_now = None if principal is None else schemas.Me.of(principal)
    return json_reply(schemas.SessionState(signed_in=principal is not None, me=me_now))


async def invite_preview(call: Call) -> Response:
    token = call.query_as(schemas.JoinQuery).token
    try:
        invite = await call.api.authenticator.live_invite(token)
    except TokenRejected as exc:
        raise token_rejected(exc.problem) from exc
    study = await call.api.store.study(invite.study_id)
    if study is None:
        raise token_rejected(TokenProblem.UNKNOWN_INVITE)
    group = None if invite.group_id is None else await call.api.store.group(study.id, invite.group_id)
    return json_reply(schemas.InvitePreview.of(invite, study, group))


async def join(call: Call) -> Response:
    request = call.body_as(schemas.JoinRequest)
    try:
        principal = await open_invite(call.api.store, call.api.authenticator, request.token, request.display_name)
    except TokenRejected as exc:
        raise token_rejected(exc.problem) from exc
    except (InviteUsedUp, NameTaken) as exc:
        raise conflict(str(exc)) from exc
    if principal.participant_id is not None:
        progress = await call.api.store.progress(principal.participant_id)
        if progress is not None:
            call.api.events.progress_changed(progress)
    return await _signed_in(call, principal, status=201)


async def _signed_in(call: Call, principal: Principal, status: int) -> Response:
    ttl_s = call.api.settings.session_ttl_s
    value, _ = await start_session(call.api.store, principal, now=call.api.now(), ttl_s=ttl_s)
    response = json_reply(schemas.Me.of(principal), status=status)
    set_session_cookie(response, call.request, value, ttl_s)
    return response


ENDPOINTS = [
    Endpoint(
        "POST", "/session", sign_in, "signIn",
        "Sign in as a facilitator (sets the session cookie); after repeated failures, 429 with `Retry-After` seconds", TAG,
        response=schemas.Me, request=schemas.SignIn, auth=Auth.NONE, problems=(401, 429), response_headers=SET_COOKIE,
    ),
    Endpoint(
        "GET", "/session", session_state, "sessionState",
        "Whether this browser is signed in, and as whom (never 401 for a missing or ended session)", TAG,
        response=schemas.SessionState, auth=Auth.OPTIONAL, problems=(401,),
    ),
    Endpoint(
        "DELETE", "/session", sign_out, "signOut", "Sign out: end this browser's session and clear its cookie", TAG,
        status=204, auth=Auth.NONE,
    ),
    Endpoint(
        "POST", "/session/revoke-all", sign_out_everywhere, "signOutEverywhere",
        "Sign out everywhere: end every session of this facilitator, on every device, and clear this browser's cookie",
        TAG, response=schemas.SignedOutEverywhere, problems=(403,),
    ),
    Endpoint(
        "POST", "/join", join, "join",
        "Open an invite: become a participant of its group (or an observer) and get a session cookie", TAG,
        status=201, response=schemas.Me, request=schemas.JoinRequest, auth=Auth.NONE, problems=(401, 409),
        response_headers=SET_COOKIE,
    ),
    Endpoint(
        "GET", "/join", invite_preview, "invitePreview",
        "What an invite link is for (study, context, group, role, expiry), before joining", TAG,
        response=schemas.InvitePreview, query=schemas.JoinQuery, auth=Auth.NONE, problems=(401,),
    ),
    Endpoint("GET", "/me", me, "me", "Who this session or token is", TAG, response=schemas.Me),
]  # fmt: skip
