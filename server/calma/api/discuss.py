"""Discuss over REST: the session as one person sees it, their private entries, the group attributes, the results.

Segments, timers, reveals and the speaker queue are control commands on
/live; this is what needs records: segment 1's top three (private until the
reveal), the group attributes with their history, the rankings of segment 4
(the aggregate once revealed), the ratings of segment 5 (private until the
session closes) and the consensus figures. Participants write their own
entries; observers read what the group sees and write nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import anyio
import anyio.to_thread
from starlette.responses import Response

from calma.access import policy
from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import group_meant, participant_self, visible_study
from calma.api.problems import Problem, conflict, forbidden, not_found
from calma.discuss.aggregate import Aggregate
from calma.discuss.artifacts import word_cloud_png
from calma.discuss.service import RANKING, RATINGS, REVEAL_RANKINGS, TOP3, DiscussRefused, DiscussService, Example, TopEntry
from calma.store.discuss_sql import Attribute
from calma.studies.model import Group, Study

TAG = "discuss"


def _service(call: Call) -> DiscussService:
    return call.api.discuss_service()


async def _writer(call: Call, study: Study, group_id: str | None) -> tuple[Group, str]:
    """The group whose attributes change, and the name of who changes them (observers may not)."""
    group = await group_meant(call, study, group_id)
    if call.user.is_observer:
        raise forbidden("observers follow the session; they do not change it")
    if not policy.manages_study(call.user, study):
        segment = (await _service(call).control(study.id, group.id))["segment"]
        if segment != "discuss":
            raise conflict(f"the group works on its attributes in the 'discuss' segment; the session is in {segment!r}")
    return group, call.user.name


def _refused(exc: DiscussRefused) -> Problem:
    if exc.kind == "not-found":
        return not_found(str(exc))
    if exc.kind == "conflict":
        return conflict(str(exc))
    if exc.kind == "forbidden":
        return forbidden(str(exc))
    return Problem("validation-failed", str(exc))


def _attribute_out(attribute: Attribute, definitions: dict[str, str]) -> schemas.AttributeOut:
    return schemas.AttributeOut(
        id=attribute.id, name=attribute.name, definition=definitions.get(attribute.id, attribute.definition),
        examples=[dict(e) for e in attribute.examples], provenance=list(attribute.provenance), status=attribute.status,
        merged_into=attribute.merged_into, split_from=attribute.split_from, version=attribute.version,
        created_by=attribute.created_by,
    )


def _aggregate_out(result: Aggregate) -> schemas.AggregateOut:
    return schemas.AggregateOut(
        ballots=result.ballots, borda=[{"attribute_id": c, "score": s} for c, s in result.borda],
        borda_order=[list(t) for t in result.borda_order], schulze_order=[list(t) for t in result.schulze_order],
        disagree=result.disagree, summary=result.summary(),
    )


async def _rankings(service: DiscussService, group_id: str) -> schemas.Rankings:
    found = await service.rankings(group_id)
    return schemas.Rankings(top3=_aggregate_out(found["top3"]), top5=_aggregate_out(found["top5"]))


# -- the session as one person sees it ----------------------------------------------------------------


async def get_state(call: Call) -> Response:
    study = await visible_study(call)
    group = await group_meant(call, study, call.query_as(schemas.DiscussQuery).group_id)
    service = _service(call)
    principal = call.user
    manager = policy.manages_study(principal, study)
    control = await service.control(study.id, group.id)
    people = {p.id: p.display_name for p in await call.api.store.participants_of(study.id, group.id)}
    top3 = await service.store.entries(group.id, TOP3)
    rankings = await service.store.entries(group.id, RANKING)
    ratings = await service.store.entries(group.id, RATINGS)
    mine = None
    if principal.participant_id is not None:
        own = {e.kind: e.payload for e in (*top3, *rankings, *ratings) if e.participant_id == principal.participant_id}
        mine = schemas.DiscussMine(
            top3=[schemas.TopEntryOut(**e) for e in own[TOP3]["entries"]] if TOP3 in own else None,
            ranking=own.get(RANKING), ratings=own.get(RATINGS),
        )
    revealed = [
        schemas.PersonTop3(participant_id=e.participant_id, display_name=people.get(e.participant_id, "someone"),
                           entries=[schemas.TopEntryOut(**item) for item in e.payload["entries"]])
        for e in top3
    ] if TOP3 in control["reveals"] else None
    attributes = await service.attributes(group.id)
    definitions = await service.live_definitions(study.id, group.id)
    show_rankings = manager or REVEAL_RANKINGS in control["reveals"]
    return json_reply(schemas.DiscussState(
        study_id=study.id, group_id=group.id, segment=control["segment"], reveals=control["reveals"],
        role=principal.role.value, can_write=not principal.is_observer, participants=len(people),
        top3_submitted=len(top3), rankings_submitted=len(rankings), ratings_submitted=len(ratings),
        mine=mine, top3=revealed, attributes=[_attribute_out(a, definitions) for a in attributes],
        rankings=await _rankings(service, group.id) if show_rankings else None,
    ))


# -- before the session: the artifacts ------------------------------------------------------------


async def get_artifacts(call: Call) -> Response:
    study = await visible_study(call)
    group = await group_meant(call, study, call.query_as(schemas.DiscussQuery).group_id)
    service = _service(call)
    principal = call.user
    mine = None
    if principal.participant_id is not None:
        participant = await call.api.store.participant(principal.participant_id)
        if participant is not None:
            mine = schemas.OwnArtifacts(**await service.own_summary(study, participant))
    shared = policy.manages_study(principal, study) or await service.codes_released(study.id)
    codes = [schemas.ArtifactCode(label=c.label, uses=c.uses, people=len(c.participants))
             for c in await service.group_codes(study, group.id)] if shared else None
    cloud = f"/api/studies/{study.id}/discuss/word-cloud.png?group_id={group.id}" if shared and codes else None
    found, alone = await service.topics(study, group.id)
    return json_reply(schemas.Artifacts(
        group_id=group.id, mine=mine,
        topics=[schemas.ArtifactTopic(name=t.name, terms=list(t.terms), prompts=t.prompts) for t in found],
        prompts_on_own_topics=alone,
        codes=codes, word_cloud=cloud, link=study.content.discuss.artifact_link,
    ))


async def get_word_cloud(call: Call) -> Response:
    study = await visible_study(call)
    group = await group_meant(call, study, call.query_as(schemas.DiscussQuery).group_id)
    service = _service(call)
    if not policy.manages_study(call.user, study) and not await service.codes_released(study.id):
        raise conflict("the facilitator has not released the group's codes yet")
    codes = await service.group_codes(study, group.id)
    if not codes:
        raise conflict("the group has no codes yet")
    png = await anyio.to_thread.run_sync(word_cloud_png, {c.label: c.uses for c in codes})
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})


# -- private entries ----------------------------------------------------------------------------------


async def put_top3(call: Call) -> Response:
    study = await visible_study(call)
    me = await participant_self(call, study, "only participants give their own top three, rankings and ratings")
    body = call.body_as(schemas.Top3In)
    try:
        await _service(call).put_top3(study, me, [TopEntry(e.name, e.definition) for e in body.entries])
    except DiscussRefused as exc:
        raise _refused(exc) from exc
    return json_reply(schemas.DiscussMine(top3=[schemas.TopEntryOut(name=" ".join(e.name.split()),
                                                                    definition=e.definition.strip()) for e in body.entries],
                                          ranking=None, ratings=None))


async def put_ranking(call: Call) -> Response:
    study = await visible_study(call)
    me = await participant_self(call, study, "only participants give their own top three, rankings and ratings")
    body = call.body_as(schemas.RankingIn)
    try:
        entry = await _service(call).put_ranking(study, me, body.top3, body.top5)
    except DiscussRefused as exc:
        raise _refused(exc) from exc
    return json_reply(schemas.DiscussMine(top3=None, ranking=entry.payload, ratings=None))


async def put_ratings(call: Call) -> Response:
    study = await visible_study(call)
    me = await participant_self(call, study, "only participants give their own top three, rankings and ratings")
    body = call.body_as(schemas.RatingsIn)
    try:
        entry = await _service(call).put_ratings(study, me, body.likert, body.ranking)
    except DiscussRefused as exc:
        raise _refused(exc) from exc
    return json_reply(schemas.DiscussMine(top3=None, ranking=None, ratings=entry.payload))


# -- group attributes -------------------------------------------------------------------------------


async def _attribute_reply(call: Call, study: Study, group: Group, attribute: Attribute, status: int = 200) -> Response:
    definitions = await _service(call).live_definitions(study.id, group.id)
    return json_reply(_attribute_out(attribute, definitions), status=status)


async def create_attribute(call: Call) -> Response:
    study = await visible_study(call)
    body = call.body_as(schemas.AttributeIn)
    group, by = await _writer(call, study, body.group_id)
    try:
        attribute = await _service(call).create_attribute(study, group.id, by, body.name, body.definition, body.provenance,
                                                           [Example(e.kind, e.id) for e in body.examples],
                                                           writer=call.user.participant_id)
    except DiscussRefused as exc:
        raise _refused(exc) from exc
    return await _attribute_reply(call, study, group, attribute, status=201)


async def patch_attribute(call: Call) -> Response:
    study = await visible_study(call)
    body = call.body_as(schemas.AttributePatch)
    group, by = await _writer(call, study, body.group_id)
    examples = None if body.examples is None else [Example(e.kind, e.id) for e in body.examples]
    try:
        attribute = await _service(call).update_attribute(study, group.id, call.param("attribute_id"), by, name=body.name,
                                                           provenance=body.provenance, examples=examples,
                                                           writer=call.user.participant_id, definition=body.definition)
    except DiscussRefused as exc:
        raise _refused(exc) from exc
    return await _attribute_reply(call, study, group, attribute)


async def save_version(call: Call) -> Response:
    study = await visible_study(call)
    group, by = await _writer(call, study, call.body_as(schemas.GroupOnly).group_id)
    try:
        attribute = await _service(call).save_version(study, group.id, call.param("attribute_id"), by)
    except DiscussRefused as exc:
        raise _refused(exc) from exc
    return await _attribute_reply(call, study, group, attribute)


async def merge_attributes(call: Call) -> Response:
    study = await visible_study(call)
    body = call.body_as(schemas.AttributeMergeIn)
    group, by = await _writer(call, study, body.group_id)
    try:
        attribute = await _service(call).merge_attributes(study, group.id, body.ids, by, body.name)
    except DiscussRefused as exc:
        raise _refused(exc) from exc
    return await _attribute_reply(call, study, group, attribute, status=201)


async def split_attribute(call: Call) -> Response:
    study = await visible_study(call)
    body = call.body_as(schemas.AttributeSplitIn)
    group, by = await _writer(call, study, body.group_id)
    try:
        parts = await _service(call).split_attribute(study, group.id, call.param("attribute_id"), by, body.names)
    except DiscussRefused as exc:
        raise _refused(exc) from exc
    definitions = await _service(call).live_definitions(study.id, group.id)
    return json_reply(schemas.AttributeList(attributes=[_attribute_out(p, definitions) for p in parts]), status=201)


async def remove_attribute(call: Call) -> Response:
    study = await visible_study(call)
    group, by = await _writer(call, study, call.query_as(schemas.DiscussQuery).group_id)
    try:
        attribute = await _service(call).remove_attribute(study, group.id, call.param("attribute_id"), by)
    except DiscussRefused as exc:
        raise _refused(exc) from exc
    return await _attribute_reply(call, study, group, attribute)


async def attribute_history(call: Call) -> Response:
    study = await visible_study(call)
    group = await group_meant(call, study, call.query_as(schemas.DiscussQuery).group_id)
    try:
        versions = await _service(call).history(group.id, call.param("attribute_id"))
    except DiscussRefused as exc:
        raise _refused(exc) from exc
    return json_reply(schemas.AttributeHistory(attribute_id=call.param("attribute_id"), versions=[
        schemas.AttributeVersionOut(version=v.version, op=v.op, snapshot=v.snapshot, by=v.by_name,
                                    at=datetime.fromtimestamp(v.at, UTC)) for v in versions
    ]))


# -- results ------------------------------------------------------------------------------------------


async def get_rankings(call: Call) -> Response:
    study = await visible_study(call)
    group = await group_meant(call, study, call.query_as(schemas.DiscussQuery).group_id)
    service = _service(call)
    if not policy.manages_study(call.user, study):
        if REVEAL_RANKINGS not in (await service.control(study.id, group.id))["reveals"]:
            raise conflict("the facilitator has not revealed the group's rankings yet")
    return json_reply(await _rankings(service, group.id))


async def get_consensus(call: Call) -> Response:
    study = await visible_study(call)
    group = await group_meant(call, study, call.query_as(schemas.DiscussQuery).group_id)
    if not policy.manages_study(call.user, study):
        raise forbidden("the consensus figures are the facilitator's")
    service = _service(call)
    if (await service.control(study.id, group.id))["segment"] != "closed":
        raise conflict("the figures are computed once the session is closed (ratings stay private until then)")
    return json_reply(schemas.Consensus(**await service.consensus(study, group.id)))


ENDPOINTS = [
    Endpoint("GET", "/studies/{study_id}/discuss/artifacts", get_artifacts, "discussArtifacts",
             "Before the session: your interactions and codes, the topics the group explored, its codes (once released)", TAG,
             response=schemas.Artifacts, query=schemas.DiscussQuery, problems=(403,)),
    Endpoint("GET", "/studies/{study_id}/discuss/word-cloud.png", get_word_cloud, "discussWordCloud",
             "The group's codes as a word cloud (PNG), once the facilitator released them", TAG,
             query=schemas.DiscussQuery, problems=(403, 409), text_media_type="image/png"),
    Endpoint("GET", "/studies/{study_id}/discuss", get_state, "discussState",
             "The live session as you see it: segment, what you entered, what is revealed, the group attributes", TAG,
             response=schemas.DiscussState, query=schemas.DiscussQuery, problems=(403,)),
    Endpoint("PUT", "/studies/{study_id}/discuss/top3", put_top3, "putTop3",
             "Participants, segment 1: your top three attributes (private until the facilitator reveals them)", TAG,
             response=schemas.DiscussMine, request=schemas.Top3In, problems=(403, 409)),
    Endpoint("POST", "/studies/{study_id}/discuss/attributes", create_attribute, "createAttribute",
             "Segment 4: a group attribute (name, definition, the cards that fed it, example interactions)", TAG,
             status=201, response=schemas.AttributeOut, request=schemas.AttributeIn, problems=(403, 409)),
    Endpoint("PATCH", "/studies/{study_id}/discuss/attributes/{attribute_id}", patch_attribute, "updateAttribute",
             "Rename a group attribute, or set its definition, provenance or examples (a new version; participants change the definition in segment 4 only, the facilitator at any time)", TAG,
             response=schemas.AttributeOut, request=schemas.AttributePatch, problems=(403, 409)),
    Endpoint("POST", "/studies/{study_id}/discuss/attributes/{attribute_id}/versions", save_version, "saveAttributeVersion",
             "Keep the definition as it reads now (edited live on the board) as a version", TAG,
             response=schemas.AttributeOut, request=schemas.GroupOnly, problems=(403, 409)),
    Endpoint("POST", "/studies/{study_id}/discuss/attributes/merge", merge_attributes, "mergeAttributes",
             "Merge attributes into a new one; the originals stay in the history, marked merged", TAG,
             status=201, response=schemas.AttributeOut, request=schemas.AttributeMergeIn, problems=(403, 409)),
    Endpoint("POST", "/studies/{study_id}/discuss/attributes/{attribute_id}/split", split_attribute, "splitAttribute",
             "Split an attribute into new ones; the original stays in the history, marked split", TAG,
             status=201, response=schemas.AttributeList, request=schemas.AttributeSplitIn, problems=(403, 409)),
    Endpoint("DELETE", "/studies/{study_id}/discuss/attributes/{attribute_id}", remove_attribute, "removeAttribute",
             "Set an attribute aside (kept in the history, marked removed)", TAG,
             response=schemas.AttributeOut, query=schemas.DiscussQuery, problems=(403, 409)),
    Endpoint("GET", "/studies/{study_id}/discuss/attributes/{attribute_id}/history", attribute_history,
             "attributeHistory", "Every version of a group attribute, oldest first", TAG,
             response=schemas.AttributeHistory, query=schemas.DiscussQuery, problems=(403,)),
    Endpoint("PUT", "/studies/{study_id}/discuss/ranking", put_ranking, "putRanking",
             "Participants, segment 4: your top three and top five of the group attributes", TAG,
             response=schemas.DiscussMine, request=schemas.RankingIn, problems=(403, 409)),
    Endpoint("GET", "/studies/{study_id}/discuss/rankings", get_rankings, "discussRankings",
             "The group's top three and top five by Borda and by Schulze (participants: once revealed)", TAG,
             response=schemas.Rankings, query=schemas.DiscussQuery, problems=(403, 409)),
    Endpoint("PUT", "/studies/{study_id}/discuss/ratings", put_ratings, "putRatings",
             "Participants, segment 5: agreement with each definition (1-5) and your ranking (private until closed)", TAG,
             response=schemas.DiscussMine, request=schemas.RatingsIn, problems=(403, 409)),
    Endpoint("GET", "/studies/{study_id}/discuss/consensus", get_consensus, "discussConsensus",
             "Facilitators, after the session closed: before/after agreement figures", TAG,
             response=schemas.Consensus, query=schemas.DiscussQuery, problems=(403, 409)),
]  # fmt: skip
