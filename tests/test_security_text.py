"""Text people send: characters the store cannot hold, names that look alike, HTML in Markdown exports.

The attacks, against a real `calma serve` on SQLite and on PostgreSQL:

- a NUL character (U+0000) in a text field made PostgreSQL fail every retry
  (503). Now any text field of any REST request, and any string of a /live
  client frame, with a NUL is refused (422 / an `invalid` error frame) naming
  the field, and nothing is stored;
- a participant joins under a name padded with zero-width and bidi control
  characters, or one that looks exactly like another member's ("Аna" with a
  Cyrillic А): names are normalised and a look-alike of a name in the group is
  refused (409), so the person picks another;
- an attribute named `<script>…</script>` with a definition full of HTML and
  Markdown links comes out of the Markdown exports (axes, guidelines) inert.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import anyio
import markdown_it
import pycrdt
import pytest

from calma.api.app import ENDPOINTS
from calma.api.schemas import RequestModel
from calma.canvas import edits
from calma.hub.close_codes import CloseCode
from calma.live.schema import CONTROL_SCHEMA
from calma.outputs.markdown import block, inline
from calma.studies.text import display_name, find_unstorable, name_skeleton
from tests.helpers.admin import calma_admin
from tests.helpers.api_client import Person
from tests.helpers.discuss import run_session
from tests.helpers.live_client import connect_live, live_url
from tests.helpers.postgres import PostgresServer
from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import connect_doc

LEAD = ("lena@example.org", "Lena", "lena's long password")
NUL = "\u0000"
_names = itertools.count(1)
TEMPLATE_TAGS = {"h1", "h2", "p", "ul", "ol", "li", "blockquote", "strong", "em", "table", "thead", "tbody", "tr", "th",
                 "td"}


# -- the rules themselves ------------------------------------------------------------------------


def test_every_request_body_and_query_of_the_api_is_a_request_model_so_none_skips_the_text_check() -> None:
    for endpoint in ENDPOINTS:
        for model in (endpoint.request, endpoint.query):
            assert model is None or issubclass(model, RequestModel), (endpoint.operation_id, model)


def test_every_client_frame_refuses_a_nul_in_any_string() -> None:
    chat = CONTROL_SCHEMA.client_messages["chat.send"]
    with pytest.raises(ValueError, match="NUL"):
        chat.model_validate({"type": "chat.send", "conversation": "c1", "text": f"hello{NUL}"})
    with pytest.raises(ValueError, match="NUL"):
        CONTROL_SCHEMA.request_id.validate_python(f"r{NUL}")


def test_unstorable_text_is_found_at_any_depth_with_its_path() -> None:
    deep: Any = "fine"
    for _ in range(5_000):
        deep = [deep]
    found = find_unstorable({"a": deep, "b": ["x", {"k": f"v{NUL}"}]})
    assert found is not None and found[:2] == (("b", 1, "k"), f"v{NUL}")
    assert find_unstorable({f"key{NUL}": 1}) is not None, "dict keys are text too"
    assert find_unstorable({"lone": "\ud800"}) is not None
    assert find_unstorable({"ok": ["é", "👩‍💻", "\t\n"]}) is None


def test_display_names_are_normalised_and_look_alikes_share_a_skeleton() -> None:
    assert display_name(" \u200bAna\u202e \t Li\ufeff\u2066 ", 80) == "Ana Li"
    assert display_name("ＡＮＡ", 80) == "ANA"  # NFKC: full-width letters
    for blank in ("\u200b\u200c\u200d", "\u3164 \u2800", "\u202e\u2069"):
        with pytest.raises(ValueError, match="visible"):
            display_name(blank, 80)
    same = {name_skeleton(n) for n in ("Ana", "ana", "ÁNA", "Аna", "ＡＮＡ", "A\u0301na", "Anа")}
    assert same == {"ana"}
    assert name_skeleton("Anna") != name_skeleton("Ana")


def test_markdown_escaping_leaves_nothing_a_renderer_acts_on() -> None:
    hostile = ("<script>alert(1)</script> [x](javascript:alert(2)) ![i](https://evil.example/p.png) "
               "<https://evil.example> &lt;b&gt; *b* `c` | t\n# H\n    indented\n1. one\n- item\n> q\n[r]: https://e")
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(block(hostile))
    assert html.startswith("<p>") and html.count("<") == html.count("</p>") + 1, html  # one paragraph, no other tag
    assert "\n" not in inline("two\nlines")


# -- against a real server, on SQLite and on PostgreSQL -----------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`calma serve` on a SQLite file, then on a fresh PostgreSQL database, with Lena's account."""
    data_dir = tmp_path_factory.mktemp(f"text-{request.param}") / "node"
    database: list[str] = []
    pg: PostgresServer | None = None
    name = None
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres_server")
        name, url = pg.create_database()
        database = ["--database", url]
    server = ServerProcess(data_dir, extra_args=database)
    server.start()
    try:
        email, lead_name, password = LEAD
        calma_admin(data_dir, "create-facilitator", "--email", email, "--name", lead_name, "--password-stdin",
                    *database, stdin=password + "\n")
        yield server
    finally:
        server.stop()
        if pg is not None and name is not None:
            pg.drop_database(name)


def lead(node: ServerProcess) -> Person:
    return Person(node, "Lena").sign_in(LEAD[0], LEAD[2])


def new_study(lena: Person) -> tuple[str, str]:
    study = lena.ok("POST", "/api/studies", {"template": "pilot", "name": f"Text {next(_names)}"}, status=201)["id"]
    group = lena.ok("POST", f"/api/studies/{study}/groups", {"name": "History teachers"}, status=201)["id"]
    return study, group


def invite(lena: Person, study: str, group: str) -> str:
    token: str = lena.ok("POST", f"/api/studies/{study}/invites", {"group_id": group, "role": "participant"},
                         status=201)["token"]
    return token


def join(node: ServerProcess, token: str, name: str) -> Any:
    return Person(node, name).request("POST", "/api/join", json={"token": token, "display_name": name})


def refused(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    if field is not None:
        assert [e["field"] for e in problem["errors"]] == [field], problem
        assert field in problem["detail"]
    return problem


def names_in(lena: Person, study: str, group: str) -> list[str]:
    people = lena.ok("GET", f"/api/studies/{study}/participants?group_id={group}")["participants"]
    return sorted(p["display_name"] for p in people)


def test_a_nul_in_any_text_field_is_a_422_naming_the_field_and_nothing_is_stored(node: ServerProcess) -> None:
    lena = lead(node)
    study, group = new_study(lena)
    ravi = Person(node, "Ravi").join(invite(lena, study, group), "Ravi")
    before = lena.ok("GET", f"/api/studies/{study}")
    path = f"/api/studies/{study}"

    attacks: list[tuple[Person, str, str, Any, str]] = [
        (lena, "PATCH", path, {"name": f"Pilot{NUL}"}, "name"),
        (lena, "PATCH", path, {"deployment_context": {"description": f"History{NUL} for schools"}},
         "deployment_context.description"),
        (lena, "PATCH", path, {"orientation": f"# Welcome{NUL}"}, "orientation"),
        (lena, "PATCH", path, {"familiarize": {"lesson": f"Values{NUL}"}}, "familiarize.lesson"),
        (lena, "PATCH", path, {"baseline_interactions": [{"id": "b1", "prompt": "Who?", "response": f"Me{NUL}"}]},
         "baseline_interactions.0.response"),
        (lena, "POST", "/api/studies", {"template": "blank", "name": f"Evil{NUL}"}, "name"),
        (lena, "POST", f"{path}/groups", {"name": f"Group{NUL}"}, "name"),
        (lena, "PATCH", f"{path}/groups/{group}", {"name": f"Renamed{NUL}"}, "name"),
        (lena, "POST", f"{path}/invites", {"group_id": group, "role": "participant", "label": f"for{NUL}"}, "label"),
        (lena, "POST", f"{path}/discuss/attributes", {"name": "Accuracy", "definition": f"Right{NUL}",
                                                     "group_id": group}, "definition"),
        (lena, "POST", f"{path}/canvas/labels", {"text": f"kind{NUL}", "group_id": group}, "text"),
        (ravi, "POST", f"{path}/reflect/ops", {"ops": [{"op_id": "op-000001", "op": {"kind": "code.create",
                                                                                   "label": f"care{NUL}"}}]},
         "ops.0.op.label"),
        (ravi, "PUT", f"{path}/discuss/top3", {"entries": [{"name": f"Care{NUL}", "definition": ""}]},
         "entries.0.name"),
    ]
    for who, method, where, body, field in attacks:
        refused(who.request(method, where, json=body), 422, field)

    # A lone surrogate (U+D800) cannot even be read as JSON text: 400, never a store failure.
    surrogate = lena.request("PATCH", path, content=b'{"name": "Pilot \\ud800"}',
                             headers={"Content-Type": "application/json"})
    assert refused(surrogate, 400)["type"] == "/api/problems/malformed-json"

    # The join's display name and a query string too.
    refused(join(node, invite(lena, study, group), f"Ana{NUL}"), 422, "display_name")
    refused(Person(node, "anyone").request("GET", f"/api/join?token={quote('abc' + NUL)}"), 422, "token")

    # Nothing of it was stored.
    after = lena.ok("GET", f"/api/studies/{study}")
    assert {k: v for k, v in after.items() if k != "updated_at"} == {k: v for k, v in before.items() if k != "updated_at"}
    assert [g["name"] for g in lena.ok("GET", f"{path}/groups")["groups"]] == ["History teachers"]
    assert all(NUL not in s["name"] for s in lena.ok("GET", "/api/studies")["studies"])
    assert lena.ok("GET", f"{path}/discuss?group_id={group}")["attributes"] == []
    assert names_in(lena, study, group) == ["Ravi"]
    assert not any(NUL in (i["label"] or "") for i in lena.ok("GET", f"{path}/invites")["invites"])
    # The server is fine: the same requests without the NUL work.
    lena.ok("PATCH", path, {"name": "Pilot"})


async def test_a_nul_in_a_chat_message_on_live_is_refused_naming_the_field_and_not_stored(node: ServerProcess) -> None:
    lena = lead(node)
    study, group = new_study(lena)
    ravi = Person(node, "Ravi").join(invite(lena, study, group), "Ravi")
    lena.ok("PUT", f"/api/studies/{study}/stage-overrides", {"group_id": group, "stage": "interact", "state": "open"})
    conversation = ravi.ok("POST", f"/api/studies/{study}/conversations", {}, status=201)["id"]

    async with connect_live(live_url(node), ravi.cookie_headers) as live:
        reply, _ = await live.request({"type": "chat.send", "conversation": conversation, "text": f"Hello{NUL}"})
        assert reply["type"] == "error" and reply["code"] == "invalid", reply
        assert reply["message"].startswith("text: ") and "NUL" in reply["message"], reply
        await live.send({"type": "ping", "id": f"r{NUL}", "client_time": 1.0})
        error, _ = await live.recv_until("error")
        assert error["code"] == "invalid" and "id" not in error, "a request id with a NUL is not echoed"
        await live.ping()  # the connection survives

    detail = ravi.ok("GET", f"/api/studies/{study}/conversations/{conversation}")
    assert detail["messages"] == [], "nothing was stored"


def test_joining_names_are_normalised_and_a_look_alike_of_a_members_name_is_refused(node: ServerProcess) -> None:
    lena = lead(node)
    study, group = new_study(lena)

    # Ana pads her name with zero-width and bidi control characters: it is stored clean.
    ana = join(node, invite(lena, study, group), " \u200bAna\u202e \t Li\ufeff ")
    assert ana.status_code == 201, ana.text
    assert ana.json()["name"] == "Ana Li"
    assert names_in(lena, study, group) == ["Ana Li"]

    # Someone tries to pass as her: every look-alike is refused, and the link stays usable.
    impostor_link = invite(lena, study, group)
    for look_alike in ("ana li", "ＡＮＡ ＬＩ", "Аna Li", "Ána  Li", "A\u0301na\u200b Li", "Ana\u2066 Li"):
        problem = refused(join(node, impostor_link, look_alike), 409)
        assert "already goes by" in problem["detail"] and "choose another" in problem["detail"], problem
    refused(join(node, impostor_link, "\u200b\u2066\u3164"), 422, "display_name")
    assert names_in(lena, study, group) == ["Ana Li"], "nothing stored for the refused joins"

    # The same link with a name of their own works; the same name in another group is fine.
    assert join(node, impostor_link, "Anna Li").status_code == 201
    other = lena.ok("POST", f"/api/studies/{study}/groups", {"name": "Second group"}, status=201)["id"]
    assert join(node, invite(lena, study, other), "Ana Li").status_code == 201
    assert names_in(lena, study, group) == ["Ana Li", "Anna Li"]

    # Observers' names are normalised too.
    watcher = lena.ok("POST", f"/api/studies/{study}/invites", {"group_id": group, "role": "observer"}, status=201)
    seen = join(node, watcher["token"], "\u202eObi\u200b")
    assert seen.status_code == 201 and seen.json()["name"] == "Obi", seen.text


async def test_html_and_markdown_in_participants_text_come_out_of_the_markdown_exports_inert(
    node: ServerProcess,
) -> None:
    payload_name = "<script>alert('name')</script>"
    payload_definition = ("<img src=x onerror=alert(1)> [click](javascript:alert(2)) ![p](https://evil.example/p.png)\n"
                          "# Not a heading\n<a href=\"javascript:alert(3)\">x</a> <https://evil.example> *loud*")
    attributes: list[tuple[str, str, str | None]] = [
        (payload_name, payload_definition, "Historical accuracy"),
        ("Balanced [views](https://evil.example)", "Presents more than one <b>perspective</b>.", None),
        ("Encourages curiosity", "1. Invites questions\n- and | pipes", None),
    ]
    lena = lead(node)
    warm_study, warm_group = new_study(lena)  # the embedder loads on first use: not inside run_session's 10 s waits
    lena.ok("POST", f"/api/studies/{warm_study}/canvas/labels", {"text": "warm", "group_id": warm_group}, status=201)
    s = await run_session(node, lena, f"Escaping {next(_names)}", group_name="<i>History</i> teachers",
                          attributes=attributes)
    query = f"?group_id={s.group}"
    axes_md = s.lead.request("GET", s.path(f"/outputs/axes.md{query}"))
    guide_md = s.lead.request("GET", s.path(f"/outputs/guidelines.md{query}"))
    renderer = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    for response in (axes_md, guide_md):
        assert response.status_code == 200, response.text
        text = response.text
        assert "&lt;script&gt;alert('name')&lt;/script&gt;" in text, "shown, as typed"
        for raw in ("<script", "<img", "<a ", "<b>", "<i>", "<https://"):
            assert raw not in text, (raw, text)
        html = renderer.render(text)
        tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html))
        assert tags <= TEMPLATE_TAGS, (tags - TEMPLATE_TAGS, html)  # only what the exports' own Markdown makes
        assert "<h1>Not a heading" not in html
    assert "## 1. &lt;script&gt;" in axes_md.text, "the template's own Markdown still works"


def test_a_facilitator_named_with_invisible_characters_is_stored_clean(node: ServerProcess) -> None:
    database = list(node.extra_args)
    calma_admin(node.data_dir, "create-facilitator", "--email", "omar@example.org", "--name", "\u200bOmar\u202e  K.",
                "--password-stdin", *database, stdin="omar's long password\n")
    omar = Person(node, "Omar").sign_in("omar@example.org", "omar's long password")
    assert omar.me["name"] == "Omar K."


def test_a_nul_in_a_path_id_is_not_found_not_a_store_failure(node: ServerProcess) -> None:
    lena = lead(node)
    study, group = new_study(lena)
    for path in (f"/api/studies/{study}%00", f"/api/studies/{quote(NUL)}", f"/api/studies/{study}/groups/{group}%00",
                 f"/api/studies/{study}/conversations/{quote('c' + NUL)}"):
        refused(lena.request("GET", path), 404)


async def test_a_nul_typed_into_a_definition_on_the_edits_room_is_refused_and_the_vote_still_starts(
    node: ServerProcess,
) -> None:
    lena = lead(node)
    study, group = new_study(lena)
    ravi = Person(node, "Ravi").join(invite(lena, study, group), "Ravi")

    async def segment(name: str) -> None:
        async with connect_live(live_url(node), lena.cookie_headers) as live:
            answer, _ = await live.command(study, group, {"name": "segment.set", "segment": name})
            assert answer["type"] == "ack", answer

    await segment("discuss")
    attribute = ravi.ok("POST", f"/api/studies/{study}/discuss/attributes",
                        {"name": "Historical accuracy", "definition": "Facts are right."}, status=201)["id"]
    async with connect_doc(node.room_url(f"study-{study}.group-{group}.edits"), headers=ravi.cookie_headers) as client:
        text = client.doc.get(edits.DEFINITIONS, type=pycrdt.Map)[attribute]
        text.insert(len(text), f" Dates{NUL} too.")
        with anyio.fail_after(10):
            await client.websocket.wait_closed()
        assert client.websocket.close_code == int(CloseCode.EDIT_REFUSED), client.websocket.close_reason
        assert "NUL" in (client.websocket.close_reason or "")

    await segment("rate")  # freezing the wording stores it: the store could not have held a NUL
    history = lena.ok("GET", f"/api/studies/{study}/discuss/attributes/{attribute}/history?group_id={group}")
    assert history["versions"][-1]["snapshot"]["definition"] == "Facts are right."
