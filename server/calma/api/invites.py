"""Invites of a study: create a personal or group link (participant or observer), list them, revoke or re-issue one."""

from __future__ import annotations

from starlette.responses import Response

from calma.access.invites import issue_invite, join_link, reissue_invite, token_of
from calma.access.invites import revoke_invite as revoke_invite_everywhere
from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import managed_study
from calma.api.problems import FieldError, conflict, invalid, not_found
from calma.studies.model import Invite, InviteKind, Role

TAG = "invites"


async def list_invites(call: Call) -> Response:
    study = await managed_study(call)
    invites = await call.api.store.invites_of(study.id)
    return json_reply(schemas.InviteList(invites=[_reply(call, invite) for invite in invites]))


async def create_invite(call: Call) -> Response:
    study = await managed_study(call)
    request = call.body_as(schemas.InviteCreate)
    if await call.api.store.group(study.id, request.group_id) is None:
        raise invalid([FieldError("group_id", "the study has no group with this id", "unknown_group")])
    if request.kind is InviteKind.GROUP and request.max_uses is None:
        raise invalid([FieldError("max_uses", "a group link needs the most people it may admit", "required")])
    if request.kind is InviteKind.PERSONAL and request.max_uses is not None:
        raise invalid([FieldError("max_uses", "a personal link is for one person: leave max_uses out", "not_allowed")])
    invite, _ = await issue_invite(
        call.api.store,
        call.api.authenticator.signer,
        study_id=study.id,
        group_id=request.group_id,
        role=Role(request.role.value),
        ttl_s=request.ttl_seconds,
        now=call.api.now(),
        created_by=call.user.facilitator_id,
        kind=request.kind,
        max_uses=request.max_uses,
        label=request.label,
    )
    return json_reply(_reply(call, invite), status=201)


async def revoke_invite(call: Call) -> Response:
    study = await managed_study(call)
    invite = await call.api.store.invite(call.param("invite_id"))
    if invite is None or invite.study_id != study.id:
        raise not_found("the invite")
    revoked = await revoke_invite_everywhere(
        call.api.store, invite, now=call.api.now(), connections=call.api.authenticator.connections
    )
    return json_reply(_reply(call, revoked))


async def reissue(call: Call) -> Response:
    """A new link for the same person (or group): the old token stops working; for a personal link,
    whoever opened the old one is signed out. Lasts as long as the old one was issued for."""
    study = await managed_study(call)
    invite = await call.api.store.invite(call.param("invite_id"))
    if invite is None or invite.study_id != study.id:
        raise not_found("the invite")
    if invite.role is Role.FACILITATOR:
        raise conflict("a facilitator token is re-issued with `calma admin token`, not from the console")
    ttl_s = max(60, int(invite.expires_at - invite.created_at))
    new, _ = await reissue_invite(
        call.api.store, call.api.authenticator.signer, invite,
        ttl_s=ttl_s, now=call.api.now(), created_by=call.user.facilitator_id,
        connections=call.api.authenticator.connections,
    )  # fmt: skip
    return json_reply(_reply(call, new), status=201)


def _reply(call: Call, invite: Invite) -> schemas.Invite:
    token = token_of(call.api.authenticator.signer, invite)
    return schemas.Invite.of(invite, token, join_link(token), call.api.now())


ENDPOINTS = [
    Endpoint(
        "GET", "/studies/{study_id}/invites", list_invites, "listInvites",
        "The study's invites and tokens, newest first", TAG, response=schemas.InviteList, problems=(403,),
    ),
    Endpoint(
        "POST", "/studies/{study_id}/invites", create_invite, "createInvite",
        "Create an invite link for a group (returns /join?token=...): personal (one person, resumed on any"
        " device; the default) or group (at most max_uses people)", TAG,
        status=201, response=schemas.Invite, request=schemas.InviteCreate, problems=(403,),
    ),
    Endpoint(
        "POST", "/studies/{study_id}/invites/{invite_id}/revoke", revoke_invite, "revokeInvite",
        "Revoke an invite: its token stops working at once (people who already joined stay)", TAG,
        response=schemas.Invite, problems=(403,),
    ),
    Endpoint(
        "POST", "/studies/{study_id}/invites/{invite_id}/reissue", reissue, "reissueInvite",
        "Re-issue an invite: revoke its token and return a new link for the same person or group (a personal"
        " link's participant is signed out everywhere and resumes with the new link)", TAG,
        status=201, response=schemas.Invite, problems=(403, 409),
    ),
]  # fmt: skip
