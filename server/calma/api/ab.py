"""A/B tests over REST: the facilitator sets up two arms; participants run blind trials and choose along the axes.

The trial's replies come back as `left` and `right` with nothing saying
which arm wrote which; the order is revealed in the answer to the choice.
Results and the preference dataset are the facilitator's. A participant's
trials are capped (one being answered at a time, a number per test): 429.
"""

from __future__ import annotations

from starlette.responses import Response

from calma.access import policy
from calma.api import schemas
from calma.api.endpoints import Call, Endpoint, json_reply
from calma.api.lookups import group_meant, managed_study, participant_self, visible_group, visible_study
from calma.api.problems import Problem, conflict, not_found, unavailable
from calma.interact.backend import Sampling
from calma.outputs.ab import ABRefused, ABService, Arm, tally
from calma.outputs.datasets import jsonl
from calma.store.ab_sql import ABTest, Trial
from calma.studies.model import Study

TAG = "ab-tests"
SMALL = 20  # decided choices per axis below which the results carry a caveat


def _service(call: Call) -> ABService:
    return call.api.ab_service()


def _refused(exc: ABRefused) -> Problem:
    if exc.kind == "not-found":
        return not_found(str(exc))
    if exc.kind == "conflict":
        return conflict(str(exc))
    if exc.kind == "limit":  # one trial at a time, a number per test, the prompt's token budget
        return Problem("limit-reached", str(exc), headers={"Retry-After": "10"})
    if exc.kind == "unavailable":
        return unavailable(str(exc))
    return Problem("validation-failed", str(exc))


async def _names(call: Call, group_id: str) -> dict[str, str]:
    return {a.id: a.name for a in await call.api.discuss_service().attributes(group_id)}


async def _test(call: Call, study: Study) -> ABTest:
    test = await _service(call).store.test(call.param("test_id"))
    principal = call.user
    if test is None or test.study_id != study.id:
        raise not_found("the A/B test")
    if not policy.manages_study(principal, study) and principal.group_id != test.group_id:
        raise not_found("the A/B test")
    return test


async def _out(call: Call, test: ABTest, *, manager: bool) -> schemas.ABTestOut:
    names = await _names(call, test.group_id)
    trials = len(await _service(call).store.trials_of(test.id)) if manager else None
    return schemas.ABTestOut(id=test.id, group_id=test.group_id, name=test.name, open=test.open,
                             axes=[schemas.AxisRef(id=a, name=names.get(a, a)) for a in test.axes],
                             arms=test.arms if manager else None, trials=trials)


def _trial_out(trial: Trial, names: dict[str, str], axes: list[str]) -> schemas.TrialOut:
    left, right = (trial.reply_a, trial.reply_b) if trial.a_side == "left" else (trial.reply_b, trial.reply_a)
    revealed = None
    if trial.choices is not None:
        revealed = {"left": "a", "right": "b"} if trial.a_side == "left" else {"left": "b", "right": "a"}
    return schemas.TrialOut(id=trial.id, prompt=trial.prompt, left=left, right=right,
                            axes=[schemas.AxisRef(id=a, name=names.get(a, a)) for a in axes],
                            choices=trial.choices, revealed=revealed)


async def create_test(call: Call) -> Response:
    study = await managed_study(call)
    body = call.body_as(schemas.ABTestIn)
    group = await visible_group(call, study, body.group_id)
    active = [a.id for a in await call.api.discuss_service().attributes(group.id, active_only=True)]
    axes = body.axes if body.axes is not None else active
    if not axes:
        raise conflict("the group has no attributes to judge along yet (Discuss, segment 4)")
    if any(a not in active for a in axes):
        raise Problem("validation-failed", "axes must be active attributes of the group")
    try:
        test = await _service(call).create(study, group.id, body.name, Arm(body.a.model, body.a.system_prompt),
                                           Arm(body.b.model, body.b.system_prompt), list(dict.fromkeys(axes)))
    except ABRefused as exc:
        raise _refused(exc) from exc
    return json_reply(await _out(call, test, manager=True), status=201)


async def list_tests(call: Call) -> Response:
    study = await visible_study(call)
    manager = policy.manages_study(call.user, study)
    group = await group_meant(call, study, call.query_as(schemas.DiscussQuery).group_id)
    tests = await _service(call).store.tests_of(group.id)
    shown = [t for t in tests if manager or t.open]
    return json_reply(schemas.ABTestList(tests=[await _out(call, t, manager=manager) for t in shown]))


async def patch_test(call: Call) -> Response:
    study = await managed_study(call)
    test = await _test(call, study)
    await _service(call).store.set_open(test.id, call.body_as(schemas.ABTestPatch).open)
    updated = await _service(call).store.test(test.id)
    assert updated is not None
    return json_reply(await _out(call, updated, manager=True))


async def run_trial(call: Call) -> Response:
    study = await visible_study(call)
    participant = await participant_self(call, study, "only participants run trials")
    test = await _test(call, study)
    settings = study.content.interact
    sampling = Sampling(temperature=settings.temperature, top_p=settings.top_p, max_tokens=settings.max_tokens)
    try:
        trial = await _service(call).trial(test, participant, call.body_as(schemas.TrialIn).prompt.strip(), sampling)
    except ABRefused as exc:
        raise _refused(exc) from exc
    return json_reply(_trial_out(trial, await _names(call, test.group_id), test.axes), status=201)


async def choose(call: Call) -> Response:
    study = await visible_study(call)
    participant = await participant_self(call, study, "only participants run trials")
    test = await _test(call, study)
    trial = await _service(call).store.trial(call.param("trial_id"))
    if trial is None:
        raise not_found("the trial")
    try:
        chosen = await _service(call).choose(test, trial, participant, dict(call.body_as(schemas.ChoiceIn).choices))
    except ABRefused as exc:
        raise _refused(exc) from exc
    return json_reply(_trial_out(chosen, await _names(call, test.group_id), test.axes))


async def results(call: Call) -> Response:
    study = await managed_study(call)
    test = await _test(call, study)
    trials = await _service(call).store.trials_of(test.id)
    names = await _names(call, test.group_id)
    rows = tally(trials, test.axes)
    smallest = min((r["decided"] for r in rows), default=0)
    caveat = (f"Only {smallest} decided choices on some axis: the intervals are wide; read them, not the point estimate."
              if smallest < SMALL else None)
    return json_reply(schemas.ABResults(
        test=await _out(call, test, manager=True), trials=len(trials), chosen=sum(t.choices is not None for t in trials),
        axes=[schemas.ABAxisResult(axis=schemas.AxisRef(id=r["axis"], name=names.get(r["axis"], r["axis"])),
                                   **{k: v for k, v in r.items() if k != "axis"}) for r in rows],
        caveat=caveat,
    ))


async def preferences(call: Call) -> Response:
    study = await managed_study(call)
    test = await _test(call, study)
    records = await _service(call).preferences(test, await _names(call, test.group_id))
    return Response(jsonl(records), media_type="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="preferences-{test.id}.jsonl"'})


ENDPOINTS = [
    Endpoint("POST", "/studies/{study_id}/ab-tests", create_test, "createAbTest",
             "Facilitators: an A/B test for a group: two arms (model, system prompt), judged along the group's axes", TAG,
             status=201, response=schemas.ABTestOut, request=schemas.ABTestIn, problems=(403, 409)),
    Endpoint("GET", "/studies/{study_id}/ab-tests", list_tests, "abTests",
             "A group's A/B tests (participants: the open ones, without saying what the arms are)", TAG,
             response=schemas.ABTestList, query=schemas.DiscussQuery, problems=(403,)),
    Endpoint("PATCH", "/studies/{study_id}/ab-tests/{test_id}", patch_test, "setAbTestOpen",
             "Open or close an A/B test", TAG, response=schemas.ABTestOut, request=schemas.ABTestPatch, problems=(403,)),
    Endpoint("POST", "/studies/{study_id}/ab-tests/{test_id}/trials", run_trial, "runAbTrial",
             "Participants: both arms answer your prompt; the replies come back blind, in a random order", TAG,
             status=201, response=schemas.TrialOut, request=schemas.TrialIn, problems=(403, 409, 429, 503)),
    Endpoint("POST", "/studies/{study_id}/ab-tests/{test_id}/trials/{trial_id}/choice", choose, "chooseAbTrial",
             "Participants: the better reply per axis (or a tie); the answer reveals which arm wrote which", TAG,
             response=schemas.TrialOut, request=schemas.ChoiceIn, problems=(403, 409)),
    Endpoint("GET", "/studies/{study_id}/ab-tests/{test_id}/results", results, "abResults",
             "Facilitators: per axis, A's and B's wins and ties, A's win rate with a Wilson 95% interval", TAG,
             response=schemas.ABResults, problems=(403,)),
    Endpoint("GET", "/studies/{study_id}/ab-tests/{test_id}/preferences.jsonl", preferences, "abPreferences",
             "Facilitators: the decided choices as preference pairs (JSON Lines: prompt, chosen, rejected, axis)", TAG,
             problems=(403,), text_media_type="application/x-ndjson"),
]  # fmt: skip
