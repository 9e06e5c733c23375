"""The semantic canvas over REST: which board a person's canvas is, writing a label onto it, what is behind a card.

The canvas itself — cards, positions, hints — lives in the group's board
room and reaches browsers over the y-websocket protocol; these endpoints are
what needs the server: placing a new label (it is embedded and placed by
`calma.canvas.service`), the excerpts behind a card (which depend on who
asks), and the facilitator's refresh from Reflect.

A participant may have at most `max_canvas_labels_per_participant` labels on
their group's board, and one being placed at a time (per hub node); beyond
either, 429. Writing a label they already wrote is not a new one.
"""

from __future__ import annotations

from starlette.responses import Response

from calma.access import policy
from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import group_meant, managed_study, visible_group, visible_study
from calma.api.problems import Problem, conflict, forbidden, not_found, unavailable
from calma.canvas.board import Card, CardContent, CardKind, card_id, writer_mark
from calma.canvas.service import BoardFull, CanvasService
from calma.embeddings.model import EmbeddingUnavailable
from calma.studies.rooms import StudyRoom

TAG = "canvas"
_placing: set[str] = set()  # participants with a label being placed on this node


def labels_by(cards: dict[str, Card], who: str) -> set[str]:
    """The label cards `who` wrote (their per-card writer mark is on the card)."""
    return {c.id for c in cards.values()
            if c.content.kind is CardKind.LABEL and writer_mark(c.id, who) in c.content.writers}


def _service(call: Call) -> CanvasService:
    return call.api.canvas_service()


async def get_canvas(call: Call) -> Response:
    study = await visible_study(call)
    group = await group_meant(call, study, call.query_as(schemas.CanvasQuery).group_id)
    principal = call.user
    room = StudyRoom.board(study.id, group.id).name
    cards = await _service(call).cards(study.id, group.id)
    return json_reply(schemas.CanvasInfo(
        study_id=study.id, group_id=group.id, group_name=group.name, room=room,
        edits_room=StudyRoom.edits(study.id, group.id).name,
        anonymous=study.content.discuss.anonymous_canvas, can_write=not principal.is_observer,
        can_steer=policy.manages_study(principal, study), cards=len(cards),
    ))


async def post_label(call: Call) -> Response:
    study = await visible_study(call)
    body = call.body_as(schemas.CanvasLabelIn)
    group = await group_meant(call, study, body.group_id)
    principal = call.user
    if principal.is_observer:
        raise forbidden("observers follow the canvas; they do not write on it")
    text = " ".join(body.text.split())
    authors = () if study.content.discuss.anonymous_canvas else (principal.name,)
    who = principal.participant_id or f"facilitator:{principal.facilitator_id}"
    content = CardContent(text, CardKind.LABEL, authors,
                          writers=(writer_mark(card_id(CardKind.LABEL, text), who),))
    if principal.participant_id is None:  # facilitators write as many as they need
        positions = await _place(call, study.id, group.id, content)
    else:
        if who in _placing:
            raise Problem("limit-reached", "a label of yours is still being placed; wait for it, then write the next",
                          headers={"Retry-After": "2"})
        _placing.add(who)  # before the first await: two requests at once cannot both pass
        try:
            mine = labels_by(await _service(call).cards(study.id, group.id), who)
            cap = call.api.settings.max_canvas_labels_per_participant
            if content.id not in mine and len(mine) >= cap:
                raise Problem("limit-reached", f"you have written {len(mine)} labels on this canvas, as many as one "
                                               f"person may ({cap}); reuse one of yours, or ask your facilitator")
            positions = await _place(call, study.id, group.id, content)
        finally:
            _placing.discard(who)
    x, y = positions[content.id]
    card = schemas.CanvasCardOut(id=content.id, text=text, kind=content.kind.value, x=x, y=y)
    return json_reply(schemas.CanvasLabelOut(card=card), status=201)


async def _place(call: Call, study_id: str, group_id: str, content: CardContent) -> dict[str, tuple[float, float]]:
    try:
        return await _service(call).place(study_id, group_id, [content], accumulate=True)
    except EmbeddingUnavailable as exc:
        raise unavailable(f"the canvas cannot place labels now: {exc}") from exc
    except BoardFull as exc:
        raise conflict(str(exc)) from exc


async def get_card(call: Call) -> Response:
    study = await visible_study(call)
    group = await group_meant(call, study, call.query_as(schemas.CanvasQuery).group_id)
    principal = call.user
    service = _service(call)
    card = (await service.cards(study.id, group.id)).get(call.param("card_id"))
    if card is None:
        raise not_found("the card")
    viewer = await call.api.store.participant(principal.participant_id) if principal.participant_id else None
    excerpts, private = await service.excerpts(study, group.id, card, viewer=viewer,
                                               facilitator=policy.manages_study(principal, study))
    content = card.content
    return json_reply(schemas.CanvasCardDetail(
        id=card.id, text=content.text, kind=content.kind.value, uses=content.uses, people=content.people,
        authors=[] if study.content.discuss.anonymous_canvas else list(content.authors),
        excerpts=[schemas.CanvasExcerpt(quote=e.quote, source=e.source, prompt=e.prompt) for e in excerpts],
        private_excerpts=private,
    ))


async def refresh(call: Call) -> Response:
    study = await managed_study(call)
    group = await visible_group(call, study, call.body_as(schemas.CanvasRefreshIn).group_id)
    codes = await _service(call).sync_codes(study.id, group.id)
    return json_reply(schemas.CanvasRefreshOut(codes=codes))


ENDPOINTS = [
    Endpoint(
        "GET", "/studies/{study_id}/canvas", get_canvas, "canvas",
        "Which board room is your group's canvas, and what you may do on it", TAG,
        response=schemas.CanvasInfo, query=schemas.CanvasQuery, problems=(403,),
    ),
    Endpoint(
        "POST", "/studies/{study_id}/canvas/labels", post_label, "writeCanvasLabel",
        "Write a label on the canvas: the server embeds it and places it near the labels that mean the same", TAG,
        status=201, response=schemas.CanvasLabelOut, request=schemas.CanvasLabelIn, problems=(403, 409, 429),
    ),
    Endpoint(
        "GET", "/studies/{study_id}/canvas/cards/{card_id}", get_card, "canvasCard",
        "A card and the excerpts behind it that you may read", TAG,
        response=schemas.CanvasCardDetail, query=schemas.CanvasQuery, problems=(403,),
    ),
    Endpoint(
        "POST", "/studies/{study_id}/canvas/refresh", refresh, "refreshCanvas",
        "Facilitators: bring a group's code cards up to date with Reflect now", TAG,
        response=schemas.CanvasRefreshOut, request=schemas.CanvasRefreshIn, problems=(403,),
    ),
]  # fmt: skip
