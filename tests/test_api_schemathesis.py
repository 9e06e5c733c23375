"""Schemathesis drives every operation of /api/openapi.json as a signed-in facilitator.

Generated inputs (valid and invalid) never make the server fail (no 5xx), and
every answer conforms to the document: its status is documented, its content
type and body match the declared schemas. Path ids point at the facilitator's
real study, group, participant and invite, so bodies reach the handlers and
the store rather than stopping at 404. Signing out (here or everywhere) is left out (it would end
the session the run uses); its behaviour is tested in test_tokens.py and test_security_headers.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import BaseSchema

from calma.api.app import ENDPOINTS
from tests.helpers.api_client import Person
from tests.helpers.server import ServerProcess
from tests.helpers.study_world import World, build_world

def negative_data_rejected(ctx: object, response: object, case: schemathesis.Case) -> bool | None:
    """schemathesis' negative_data_rejection, also counting 413 (a body over the size limit) as a rejection."""
    if getattr(response, "status_code", None) == 413:
        return None
    return negative_data_rejection(ctx, response, case)  # type: ignore[arg-type]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejected,
]
EXAMPLES_PER_OPERATION = 40
SESSION_ENDERS = ("signOut", "signOutEverywhere")  # they would end the session the run uses
OPERATIONS = [(e.method, "/api" + e.path) for e in ENDPOINTS if e.operation_id not in SESSION_ENDERS]
# Negative cases need something to make invalid: a body or a query (path ids are fixed, auth is the cookie).
RUNS = [
    (e.method, "/api" + e.path, mode)
    for e in ENDPOINTS
    if e.operation_id not in SESSION_ENDERS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or e.request is not None or e.query is not None
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = ServerProcess(tmp_path_factory.mktemp("schemathesis") / "data")
    server.start()
    try:
        world = build_world(server)
        # Records for the Interact and Familiarize paths: Ravi (group A) may chat, and has a conversation.
        world.owner.ok("PUT", world.path("/api/studies/{S}/stage-overrides"),
                       {"group_id": world.ids["GA"], "stage": "interact", "state": "open"})
        world.ids["CONV"] = world.participant_a.ok("POST", world.path("/api/studies/{S}/conversations"), {}, status=201)["id"]
        # A card on group A's canvas, for the card path.
        world.ids["CARD"] = world.participant_a.ok("POST", world.path("/api/studies/{S}/canvas/labels"),
                                                   {"text": "patient"}, status=201)["card"]["id"]
        # A group attribute of group A, for the attribute paths (the facilitator may write in any segment).
        world.ids["ATTR"] = world.owner.ok("POST", world.path("/api/studies/{S}/discuss/attributes"),
                                           {"name": "Accuracy", "group_id": world.ids["GA"]}, status=201)["id"]
        # An A/B test of group A (two system prompts on the packaged model), for the A/B paths.
        arms = {"a": {"model": "gemma-3-270m", "system_prompt": "Be brief."}, "b": {"model": "gemma-3-270m"}}
        world.ids["ABTEST"] = world.owner.ok("POST", world.path("/api/studies/{S}/ab-tests"),
                                             {"group_id": world.ids["GA"], "name": "Brief or not", **arms}, status=201)["id"]
        yield world
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(world: World) -> BaseSchema:
    schema = schemathesis.openapi.from_url(f"{world.server.http_url}/api/openapi.json")
    # Always the facilitator's cookie: generated Authorization headers would turn most cases into 401s.
    schema.config.generation.update(with_security_parameters=False)
    return schema


def test_every_endpoint_is_in_the_document_and_run_here(api_schema: BaseSchema) -> None:
    documented = {(method.upper(), path) for path, item in api_schema.raw_schema["paths"].items() for method in item}
    assert documented == {(e.method, "/api" + e.path) for e in ENDPOINTS}
    assert set(OPERATIONS) | {("DELETE", "/api/session"), ("POST", "/api/session/revoke-all")} == documented


@pytest.mark.parametrize(("method", "path", "mode"), RUNS, ids=[f"{m} {p} {mode.value}" for m, p, mode in RUNS])
def test_the_api_holds_up_to_generated_requests(
    api_schema: BaseSchema, world: World, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    ids = world.ids
    real = {
        "study_id": ids["S"], "group_id": ids["GA"], "participant_id": ids["PA"], "invite_id": ids["INV"],
        "conversation_id": ids["CONV"], "item_id": "spice-level", "stage": "interact", "card_id": ids["CARD"],
        "attribute_id": ids["ATTR"], "test_id": ids["ABTEST"], "trial_id": "0123456789abcdef",
    }  # fmt: skip
    fixed = {name: real[name] for name in re.findall(r"{(\w+)}", path)}
    cookie = world.owner.cookie_headers

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    def generated(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=cookie, checks=CHECKS)

    generated()


def test_the_session_the_run_used_is_still_good(world: World) -> None:
    owner: Person = world.owner
    assert owner.ok("GET", "/api/me")["role"] == "facilitator"
    assert world.server.process is not None and world.server.process.poll() is None
