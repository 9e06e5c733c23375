"""Every failure of the REST API is an RFC 9457 problem with a clear message, and the request fails alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.server import ServerProcess

LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Person]]:
    server = ServerProcess(tmp_path_factory.mktemp("problems") / "data")
    server.start()
    try:
        create_facilitator(server.data_dir, "ana@example.org", "Ana", "ana's long password")
        yield server, Person(server, "owner").sign_in("ana@example.org", "ana's long password")
    finally:
        server.stop()


@pytest.fixture
def ana(served: tuple[ServerProcess, Person]) -> Person:
    return served[1]


@pytest.fixture
def study(ana: Person) -> str:
    study_id: str = ana.ok("POST", "/api/studies", {"template": "blank"}, status=201)["id"]
    return study_id


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    """The response is the problem `slug` with every RFC 9457 member, about this request."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(problem)
    assert problem["type"] == f"/api/problems/{slug}"
    assert problem["status"] == status
    assert problem["instance"] == response.request.url.path
    assert isinstance(problem["detail"], str) and len(problem["detail"]) > 10
    return problem


def send(ana: Person, path: str, content: bytes, content_type: str | None = "application/json") -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return ana.request("POST", path, content=content, headers=headers)


@pytest.mark.parametrize(
    "body", [b"{nope", b'{"template": "pilot"', b"\xff\xfe{}", b'{"name": "\\ud800"}', b"   "], ids=repr
)
def test_malformed_json_is_400(ana: Person, body: bytes) -> None:
    problem = assert_problem(send(ana, "/api/studies", body), 400, "malformed-json")
    assert "JSON" in str(problem["detail"])


def test_a_body_declared_too_large_is_413_before_it_is_read(ana: Person) -> None:
    body = b'{"name": "' + b"x" * LIMIT + b'"}'
    problem = assert_problem(send(ana, "/api/studies", body), 413, "payload-too-large")
    assert str(LIMIT) in str(problem["detail"])


def test_a_body_streamed_past_the_limit_is_413(ana: Person) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b'{"name": "'
        for _ in range(LIMIT // 16384 + 2):
            yield b"x" * 16384
        yield b'"}'

    response = ana.request("POST", "/api/studies", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload-too-large")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
def test_a_body_that_is_not_json_is_415(ana: Person, content_type: str | None) -> None:
    problem = assert_problem(send(ana, "/api/studies", b"{}", content_type), 415, "unsupported-media-type")
    assert "application/json" in str(problem["detail"])


def test_json_with_a_charset_or_a_json_suffix_is_fine(ana: Person) -> None:
    assert send(ana, "/api/studies", b"{}", "application/json; charset=utf-8").status_code == 201
    assert send(ana, "/api/studies", b"{}", "application/merge-patch+json").status_code == 201


@pytest.mark.parametrize("path", ["/api/nope", "/api/studies/0123456789abcdef/nothing", "/api/studies/", "/api"])
def test_unknown_paths_are_404_problems(ana: Person, path: str) -> None:
    assert_problem(ana.get(path), 404, "not-found")


def test_an_unknown_id_is_404(ana: Person) -> None:
    problem = assert_problem(ana.get("/api/studies/0123456789abcdef"), 404, "not-found")
    assert "study" in str(problem["detail"])


def test_a_method_a_path_does_not_answer_is_405_with_allow(ana: Person) -> None:
    response = ana.request("DELETE", "/api/studies")
    problem = assert_problem(response, 405, "method-not-allowed")
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}
    assert "DELETE" in str(problem["detail"])


def test_no_credentials_is_401_with_a_challenge(served: tuple[ServerProcess, Person], study: str) -> None:
    server, _ = served
    response = httpx.get(f"{server.http_url}/api/studies/{study}")
    problem = assert_problem(response, 401, "unauthenticated")
    assert "sign in" in str(problem["detail"])
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_broken_authorization_header_is_401(served: tuple[ServerProcess, Person]) -> None:
    server, _ = served
    response = httpx.get(f"{server.http_url}/api/me", headers={"Authorization": "Basic YTpi"})
    assert "Bearer" in str(assert_problem(response, 401, "unauthenticated")["detail"])


def test_validation_lists_every_field_that_failed(ana: Person, study: str) -> None:
    response = ana.patch(
        f"/api/studies/{study}",
        {
            "name": "   ",
            "deployment_context": {"system_prompt": "p" * 20_001, "models": ["x"] * 21},
            "stage_order": ["discuss", "discuss"],
            "colour": "blue",
        },
    )
    problem = assert_problem(response, 422, "validation-failed")
    errors = problem["errors"]
    assert isinstance(errors, list)
    fields = {error["field"] for error in errors}
    assert {"name", "deployment_context.system_prompt", "deployment_context.models", "stage_order", "colour"} <= fields
    assert all(error["message"] and error["code"] for error in errors)
    assert "deployment_context.system_prompt" in str(problem["detail"])


def test_a_json_body_that_is_not_an_object_is_422(ana: Person) -> None:
    assert_problem(send(ana, "/api/studies", b"[1, 2]"), 422, "validation-failed")


def test_a_query_that_does_not_validate_is_422(ana: Person, study: str) -> None:
    problem = assert_problem(ana.get(f"/api/studies/{study}/participants?group_id=NOT-AN-ID"), 422, "validation-failed")
    assert "group_id" in str(problem["detail"])


def test_every_string_has_a_limit_in_the_schema(served: tuple[ServerProcess, Person]) -> None:
    server, _ = served
    document = httpx.get(f"{server.http_url}/api/openapi.json").json()
    unlimited: list[str] = []

    def walk(schema: object, where: str) -> None:
        if isinstance(schema, dict):
            if schema.get("type") == "string" and "maxLength" not in schema and "enum" not in schema:
                unlimited.append(where)
            for key, value in schema.items():
                walk(value, f"{where}.{key}")
        elif isinstance(schema, list):
            for index, value in enumerate(schema):
                walk(value, f"{where}[{index}]")

    requests = {"SignIn", "JoinRequest", "StudyCreate", "GroupCreate", "GroupRename", "InviteCreate", "ProgressUpdate"}
    for name, schema in document["components"]["schemas"].items():
        if name in requests or name.endswith(("Patch", "In")):  # only what clients send has to be limited
            walk(schema, name)
    assert unlimited == []


def test_a_conflict_is_409(ana: Person, study: str) -> None:
    ana.ok("POST", f"/api/studies/{study}/groups", {"name": "Twins"}, status=201)
    problem = assert_problem(ana.post(f"/api/studies/{study}/groups", {"name": "Twins"}), 409, "conflict")
    assert "Twins" in str(problem["detail"])


def test_every_problem_type_explains_itself(ana: Person, study: str) -> None:
    for response in (ana.get("/api/nope"), ana.post(f"/api/studies/{study}/groups", {"name": ""})):
        problem = response.json()
        explained = ana.get(str(problem["type"]))
        assert explained.status_code == 200
        assert explained.json()["title"] == problem["title"] and explained.json()["status"] == problem["status"]


def test_the_server_keeps_serving_after_all_of_that(ana: Person) -> None:
    assert ana.ok("GET", "/api/me")["name"] == "Ana"


def test_the_data_dir_secret_is_private(served: tuple[ServerProcess, Person]) -> None:
    server, _ = served
    secret: Path = server.data_dir / "secret.key"
    assert secret.stat().st_mode & 0o777 == 0o600
