"""A Discuss session on a real server, segment by segment: what each person may write, and what others see when.

Lena facilitates group "History teachers" with Ravi, Mei and Ana; Obi observes.
The facilitator drives segments and reveals over /live, as the console does;
entries and attributes go over REST, as the Discuss page does. What a
participant's browser would receive is captured at the protocol level: the
board room (y-websocket) and /live frames, as bytes.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import msgpack
import pycrdt
import pytest
from websockets.asyncio.client import connect

from calma.canvas.board import CardKind, card_id, read_cards
from calma.discuss.artifacts import topics, word_cloud_png
from calma.embeddings.model import Embedder
from tests.helpers.lead import server_with_lead, sign_in_lead
from tests.helpers.api_client import Person
from tests.helpers.interact import chatting
from tests.helpers.live_client import LiveClient, connect_live, live_url
from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import connect_doc

_studies = itertools.count(1)

TOP3 = {
    "Ravi": [("Historical accuracy", "Facts and dates are right"), ("Balanced views", "Presents several sides"),
             ("Age-appropriate", "Fits high-school students")],
    "Mei": [("Balanced views", "More than one perspective"), ("Encourages curiosity", "Invites further questions"),
            ("Historical accuracy", "No invented facts")],
    "Ana": [("Cultural sensitivity", "Respects communities"), ("Historical accuracy", "Accurate"),
            ("Balanced views", "Fair to all sides")],
}


@dataclass
class Session:
    server: ServerProcess
    lead: Person
    study: str
    group: str
    people: dict[str, Person]  # Ravi, Mei, Ana (participants) and Obi (observer)

    def path(self, suffix: str = "") -> str:
        return f"/api/studies/{self.study}{suffix}"

    def state(self, who: str) -> dict[str, Any]:
        person = self.lead if who == "Lena" else self.people[who]
        suffix = f"/discuss?group_id={self.group}" if who == "Lena" else "/discuss"
        return person.ok("GET", self.path(suffix))  # type: ignore[no-any-return]

    async def command(self, live: LiveClient, **command: Any) -> None:
        answer, _ = await live.command(self.study, self.group, command)
        assert answer["type"] == "ack", answer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_with_lead(tmp_path_factory.mktemp("discuss") / "node") as node:
        yield node


@pytest.fixture
def session(server: ServerProcess) -> Session:
    lead = sign_in_lead(server, "Lena")
    study = lead.ok("POST", "/api/studies", {"template": "pilot", "name": f"Discuss {next(_studies)}"}, status=201)["id"]
    group = lead.ok("POST", f"/api/studies/{study}/groups", {"name": "History teachers"}, status=201)["id"]

    def join(name: str, role: str = "participant") -> Person:
        invite = lead.ok("POST", f"/api/studies/{study}/invites", {"group_id": group, "role": role}, status=201)
        return Person(server, name).join(invite["token"], name)

    people = {name: join(name) for name in ("Ravi", "Mei", "Ana")} | {"Obi": join("Obi", "observer")}
    return Session(server, lead, study, group, people)


def put_top3(s: Session, who: str, status: int = 200) -> Any:
    entries = [{"name": n, "definition": d} for n, d in TOP3[who]]
    return s.people[who].request("PUT", s.path("/discuss/top3"), json={"entries": entries}) if status != 200 else \
        s.people[who].ok("PUT", s.path("/discuss/top3"), {"entries": entries})


async def test_top_threes_reach_nobody_until_the_reveal_then_land_on_the_canvas(session: Session) -> None:
    s = session
    assert put_top3(s, "Ravi", status=409).status_code == 409, "not in the lobby"
    board_url = s.server.room_url(f"study-{s.study}.group-{s.group}.board")
    received: list[bytes] = []  # everything Mei's browser is sent, room and /live, before the reveal

    async with connect_live(live_url(s.server), s.lead.cookie_headers) as lead, \
            connect_live(live_url(s.server), s.people["Mei"].cookie_headers) as mei_live, \
            connect(board_url, additional_headers=s.people["Mei"].cookie_headers, max_size=None) as mei_room:
        await mei_live.subscribe(s.study, s.group)
        await mei_room.send(pycrdt.create_sync_message(pycrdt.Doc()))
        await s.command(lead, name="segment.set", segment="top3")
        for who in ("Ravi", "Mei", "Ana"):
            put_top3(s, who)

        ravi = s.state("Ravi")
        assert [e["name"] for e in ravi["mine"]["top3"]] == [n for n, _ in TOP3["Ravi"]]
        assert ravi["top3"] is None and ravi["top3_submitted"] == 3, "counted, not shown"
        assert s.state("Lena")["top3"] is None, "not even the facilitator's page is sent them before the reveal"

        # Drain what Mei was sent so far: a ping's pong comes after every frame queued before it.
        pong_id = mei_live.next_id()
        await mei_live.send({"type": "ping", "id": pong_id, "client_time": 0})
        while True:
            frame = await mei_live.websocket.recv()
            assert isinstance(frame, bytes)
            received.append(frame)
            if msgpack.unpackb(frame).get("id") == pong_id:
                break
        # The room answers frames in order: a second sync step 1 is answered (step 2: the whole document)
        # after every update it sent before.
        await mei_room.send(pycrdt.create_sync_message(pycrdt.Doc()))
        answers = 0
        with anyio.fail_after(10):
            while answers < 2:
                frame = await mei_room.recv()
                assert isinstance(frame, bytes)
                received.append(frame)
                answers += frame[:2] == b"\x00\x01"
        everything = b"".join(received)
        for name, definition in TOP3["Ravi"] + TOP3["Ana"]:
            if (name, definition) not in TOP3["Mei"]:
                assert definition.encode() not in everything
        assert b"Age-appropriate" not in everything and b"Cultural sensitivity" not in everything

        await s.command(lead, name="reveal", what="top3")

    async with connect_doc(board_url, headers=s.people["Mei"].cookie_headers) as mei:
        cards = read_cards(mei.doc)
        accuracy = cards[card_id(CardKind.TOP3, "Historical accuracy")]
        assert (accuracy.content.people, accuracy.content.authors) == (3, ()), "three named it; anonymous by default"
        assert {c.content.text for c in cards.values()} == {n for entries in TOP3.values() for n, _ in entries}
    revealed = s.state("Mei")["top3"]
    assert {p["display_name"]: [e["name"] for e in p["entries"]] for p in revealed} == {
        who: [n for n, _ in entries] for who, entries in TOP3.items()}
    assert put_top3(s, "Mei", status=409).status_code == 409, "after the reveal, entries stay as they were"


async def reach(s: Session, lead: LiveClient, segment: str) -> None:
    await s.command(lead, name="segment.set", segment=segment)


def attribute(s: Session, who: str, name: str, *, definition: str = "", provenance: list[str] | None = None,
              examples: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body = {"name": name, "definition": definition, "provenance": provenance or [], "examples": examples or []}
    return s.people[who].ok("POST", s.path("/discuss/attributes"), body, status=201)  # type: ignore[no-any-return]


async def test_the_group_defines_attributes_ranks_rates_and_the_facilitator_gets_the_figures(session: Session) -> None:
    s = session
    baseline = s.lead.ok("GET", s.path())["baseline_interactions"][0]["id"]
    async with connect_live(live_url(s.server), s.lead.cookie_headers) as lead:
        await reach(s, lead, "top3")
        for who in ("Ravi", "Mei", "Ana"):
            put_top3(s, who)
        await s.command(lead, name="reveal", what="top3")
        for segment in ("explore", "present"):
            await reach(s, lead, segment)
        await s.command(lead, name="speaker.set", participant=s.people["Ravi"].me["participant_id"])
        assert s.people["Mei"].request("POST", s.path("/discuss/attributes"), json={"name": "x"}).status_code == 409

        await reach(s, lead, "discuss")
        accuracy = attribute(s, "Ravi", "Historical accuracy", definition="Facts and dates are right.",
                             provenance=[card_id(CardKind.TOP3, "Historical accuracy")],
                             examples=[{"kind": "baseline", "id": baseline}])
        balance = attribute(s, "Mei", "Balanced views", provenance=[card_id(CardKind.TOP3, "Balanced views")])
        fairness = attribute(s, "Ana", "Fair to all sides")
        curiosity = attribute(s, "Mei", "Encourages curiosity", provenance=[card_id(CardKind.TOP3, "Encourages curiosity")])
        assert s.people["Obi"].request("POST", s.path("/discuss/attributes"), json={"name": "x"}).status_code == 403
        bad = s.people["Ana"].request("POST", s.path("/discuss/attributes"),
                                      json={"name": "y", "examples": [{"kind": "message", "id": "0123456789abcdef"}]})
        assert bad.status_code == 422 and "not a model reply" in bad.json()["detail"]

        # The definition is edited together in the group's edits room (segment 4); saving keeps it as a version.
        edits_url = s.server.room_url(f"study-{s.study}.group-{s.group}.edits")
        async with connect_doc(edits_url, headers=s.people["Ana"].cookie_headers) as ana:
            text = ana.doc.get("definitions", type=pycrdt.Map)[accuracy["id"]]
            text += " Sources are named."
            ravi_sees = s.people["Ravi"]
            async with connect_doc(edits_url, headers=ravi_sees.cookie_headers) as ravi:
                await ravi.wait_for(lambda doc: "Sources are named." in str(
                    doc.get("definitions", type=pycrdt.Map)[accuracy["id"]]))
        saved = s.people["Ravi"].ok("POST", s.path(f"/discuss/attributes/{accuracy['id']}/versions"), {})
        assert saved["version"] == 2 and saved["definition"] == "Facts and dates are right. Sources are named."

        merged = s.people["Mei"].ok("POST", s.path("/discuss/attributes/merge"),
                                    {"ids": [balance["id"], fairness["id"]], "name": "Balanced and fair"}, status=201)
        assert merged["provenance"] == [card_id(CardKind.TOP3, "Balanced views")]
        history = s.people["Mei"].ok("GET", s.path(f"/discuss/attributes/{balance['id']}/history"))["versions"]
        assert [(v["op"], v["snapshot"]["status"]) for v in history] == [("create", "active"), ("merge", "merged")]
        assert history[-1]["snapshot"]["merged_into"] == merged["id"]
        parts = s.people["Ana"].ok("POST", s.path(f"/discuss/attributes/{curiosity['id']}/split"),
                                   {"names": ["Sparks curiosity", "Invites questions"]}, status=201)["attributes"]
        assert [p["split_from"] for p in parts] == [curiosity["id"]] * 2
        s.people["Ana"].ok("DELETE", s.path(f"/discuss/attributes/{parts[1]['id']}"))
        active = [a for a in s.state("Ravi")["attributes"] if a["status"] == "active"]
        ids = {a["name"]: a["id"] for a in active}
        assert set(ids) == {"Historical accuracy", "Balanced and fair", "Sparks curiosity"}

        accuracy_id, balanced_id, curious_id = ids["Historical accuracy"], ids["Balanced and fair"], ids["Sparks curiosity"]
        ballots = {"Ravi": [accuracy_id, balanced_id, curious_id], "Mei": [balanced_id, accuracy_id, curious_id],
                   "Ana": [accuracy_id, curious_id, balanced_id]}
        for who, ballot in ballots.items():
            s.people[who].ok("PUT", s.path("/discuss/ranking"), {"top3": ballot, "top5": ballot})
        refused = s.people["Ravi"].request("PUT", s.path("/discuss/ranking"), json={"top3": [accuracy_id] * 2, "top5": []})
        assert refused.status_code == 422
        assert s.people["Mei"].request("GET", s.path("/discuss/rankings")).status_code == 409, "not revealed yet"
        rankings = s.lead.ok("GET", s.path(f"/discuss/rankings?group_id={s.group}"))
        # Borda (3 candidates): accuracy 2 + 0 + 2 = 4, balanced 0 + 2 − 2 = 0, curious −2 − 2 + 0 = −4.
        assert rankings["top3"]["borda"][0] == {"attribute_id": accuracy_id, "score": 4}
        assert rankings["top3"]["schulze_order"][0] == [accuracy_id] and not rankings["top3"]["disagree"]
        await s.command(lead, name="reveal", what="rankings")
        assert s.people["Mei"].ok("GET", s.path("/discuss/rankings"))["top3"]["ballots"] == 3

        await reach(s, lead, "rate")
        ratings = {"Ravi": ({accuracy_id: 5, balanced_id: 4, curious_id: 3}, [accuracy_id, balanced_id, curious_id]),
                   "Mei": ({accuracy_id: 4, balanced_id: 5, curious_id: 2}, [accuracy_id, balanced_id, curious_id]),
                   "Ana": ({accuracy_id: 5, balanced_id: 4, curious_id: 4}, [accuracy_id, curious_id, balanced_id])}
        for who, (likert, ranking) in ratings.items():
            s.people[who].ok("PUT", s.path("/discuss/ratings"), {"likert": likert, "ranking": ranking})
        partial = s.people["Ravi"].request("PUT", s.path("/discuss/ratings"), json={"likert": {accuracy_id: 5},
                                                                                    "ranking": [accuracy_id]})
        assert partial.status_code == 422 and "rate every group attribute" in partial.json()["detail"]
        assert s.state("Mei")["mine"]["ratings"]["likert"] == ratings["Mei"][0]
        assert s.lead.request("GET", s.path(f"/discuss/consensus?group_id={s.group}")).status_code == 409

        await reach(s, lead, "closed")
    figures = s.lead.ok("GET", s.path(f"/discuss/consensus?group_id={s.group}"))
    assert s.people["Ravi"].request("GET", s.path("/discuss/consensus")).status_code == 403
    by_name = {p["display_name"]: p for p in figures["participants"]}
    # Segment 1 mapped to group attributes by provenance: Ravi named accuracy, balanced views (→ "Balanced and fair"),
    # and age-appropriate (no attribute close enough, or one by meaning); segment 5 ranks all three.
    assert by_name["Ravi"]["segment1"][:2] == [accuracy_id, balanced_id]
    assert by_name["Ravi"]["segment5"] == [accuracy_id, balanced_id, curious_id]
    assert by_name["Mei"]["segment1"][:2] == [balanced_id, curious_id]
    assert by_name["Mei"]["kendall_tau"] is not None
    likert = {row["attribute_id"]: row for row in figures["likert"]}
    assert (likert[accuracy_id]["median"], likert[accuracy_id]["share_agreeing"]) == (5.0, 1.0)
    assert (likert[curious_id]["median"], likert[curious_id]["share_agreeing"]) == (3.0, pytest.approx(1 / 3))
    assert figures["kendalls_w_after"] is not None and figures["krippendorff_alpha"] is not None
    assert figures["krippendorff_caveat"].startswith("Only 3 people")


def test_entries_are_checked_and_only_their_owners_write_them(session: Session) -> None:
    s = session
    cases = [
        (s.people["Obi"], "PUT", "/discuss/top3", {"entries": [{"name": "x"}]}, 403),
        (s.lead, "PUT", "/discuss/top3", {"entries": [{"name": "x"}]}, 403),
        (s.people["Ravi"], "PUT", "/discuss/top3", {"entries": []}, 422),
        (s.people["Ravi"], "PUT", "/discuss/top3", {"entries": [{"name": "a"}] * 4}, 422),
        (s.people["Ravi"], "PUT", "/discuss/top3", {"entries": [{"name": "x" * 121}]}, 422),
        (s.people["Ravi"], "PUT", "/discuss/top3", {"entries": [{"name": "x", "definition": "d" * 2001}]}, 422),
        (s.people["Ravi"], "PUT", "/discuss/ratings", {"likert": {"0123456789abcdef": 6}, "ranking": []}, 422),
        (s.people["Ravi"], "PUT", "/discuss/ratings", {"likert": {"0123456789abcdef": "5"}, "ranking": []}, 422),
        (s.people["Ravi"], "GET", f"/discuss/attributes/{uuid.uuid4().hex[:16]}/history", None, 404),
        (s.lead, "GET", "/discuss", None, 422),
        (Person(s.server, "anonymous"), "GET", "/discuss", None, 401),
    ]
    for person, method, suffix, body, status in cases:
        response = person.request(method, s.path(suffix), json=body)
        assert response.status_code == status, (suffix, body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert s.state("Lena")["top3_submitted"] == 0, "nothing refused was stored"


# -- before the session: the artifacts ------------------------------------------------------------------


def test_topics_are_named_by_telling_terms_several_people_used_and_the_word_cloud_is_a_picture() -> None:
    asked = [("ravi", "What caused the partition of India in 1947?"), ("mei", "Why was India partitioned?"),
             ("ravi", "Tell me about the Mughal empire"), ("ana", "Explain the Mughal architecture of Agra"),
             ("mei", "How did Gandhi lead the salt march?"), ("ana", "What was the role of Gandhi in independence?"),
             ("ravi", "My uncle Rajesh Kumar was arrested in Amritsar, what happened there?")]
    prompts, authors = [p for _, p in asked], [a for a, _ in asked]
    found, alone = topics(prompts, anyio.run(Embedder().embed, prompts), authors)
    names = " ".join(t.name for t in found)
    assert "mughal" in names and "gandhi" in names and "india" in names
    assert not {"tell", "explain", "did", "what"} & {term for t in found for term in t.terms}, "how people ask is not a topic"
    assert not {"rajesh", "kumar", "amritsar", "arrested", "uncle", "agra"} & set(names.split()), "one person's words stay theirs"
    assert sum(t.prompts for t in found) + alone == len(prompts) and alone >= 1
    png = word_cloud_png({"sparks curiosity": 5, "Eurocentric": 2})
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == word_cloud_png({"sparks curiosity": 5, "Eurocentric": 2})


async def test_each_participant_gets_their_own_summary_the_groups_topics_and_codes_once_released(session: Session) -> None:
    s = session
    s.lead.ok("PUT", s.path("/stage-overrides"), {"group_id": s.group, "stage": "interact", "state": "open"})
    s.lead.ok("PATCH", s.path(), {"interact": {"max_tokens": 8},
                                  "discuss": {"artifact_link": "https://example.org/recap.mp4"}})
    for who, prompt in (("Ravi", "Who built the Taj Mahal?"), ("Mei", "Why was the Taj Mahal built?")):
        conversation = s.people[who].ok("POST", s.path("/conversations"), {}, status=201)
        async with chatting(s.server, s.people[who]) as chat:
            _, reply = await chat.send(conversation["id"], prompt)
            await chat.finished(reply["id"])
    s.lead.ok("PUT", s.path("/stage-overrides"), {"group_id": s.group, "stage": "reflect", "state": "open"})
    item = next(i for i in s.people["Ravi"].ok("GET", s.path("/reflect"))["items"] if i["kind"] == "baseline")
    op = {"kind": "annotation.create", "id": uuid.uuid4().hex[:16], "target_kind": "baseline", "target_id": item["id"],
          "start": 0, "end": 10, "quote": item["text"][:10], "codes": ["sparks curiosity"]}
    s.people["Ravi"].ok("POST", s.path("/reflect/ops"), {"ops": [{"op_id": op["id"], "op": op}]})

    ravi = s.people["Ravi"].ok("GET", s.path("/discuss/artifacts"))
    assert ravi["mine"] == {"conversations": 1, "annotations": 1, "codes": [{"label": "sparks curiosity", "uses": 1}],
                            "clusters": []}
    assert [t["prompts"] for t in ravi["topics"]] == [2] and "taj" in ravi["topics"][0]["name"]
    assert ravi["codes"] is None and ravi["word_cloud"] is None, "the group's codes wait for the release"
    assert ravi["link"] == "https://example.org/recap.mp4"
    assert s.people["Ravi"].request("GET", s.path("/discuss/word-cloud.png")).status_code == 409
    assert "taj" not in str(s.people["Obi"].ok("GET", s.path("/discuss/artifacts"))["mine"]).lower()

    s.lead.ok("PUT", s.path("/reflect/settings"), {"codes_released": True})
    mei = s.people["Mei"].ok("GET", s.path("/discuss/artifacts"))
    assert mei["codes"] == [{"label": "sparks curiosity", "uses": 1, "people": 1}]
    picture = s.people["Mei"].request("GET", mei["word_cloud"])
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    bad = s.lead.request("PATCH", s.path(), json={"discuss": {"artifact_link": "javascript:alert(1)"}})
    assert bad.status_code == 422


async def test_concurrent_changes_to_one_attribute_are_conflicts_not_failures_and_inputs_are_checked(session: Session) -> None:
    s = session
    async with connect_live(live_url(s.server), s.lead.cookie_headers) as lead:
        await reach(s, lead, "discuss")
    first = attribute(s, "Ravi", "Accuracy")
    second = attribute(s, "Mei", "Fairness")
    unknown_card = s.people["Ana"].request("POST", s.path("/discuss/attributes"),
                                           json={"name": "x", "provenance": ["c-0123456789abcdef"]})
    assert unknown_card.status_code == 422 and "not cards on the group's canvas" in unknown_card.json()["detail"]

    def merge(who: str) -> int:
        body = {"ids": [first["id"], second["id"]], "name": f"Merged by {who}"}
        return s.people[who].request("POST", s.path("/discuss/attributes/merge"), json=body).status_code

    statuses: list[int] = []

    async def one(who: str) -> None:
        statuses.append(await anyio.to_thread.run_sync(merge, who))

    async with anyio.create_task_group() as tg:
        for who in ("Ravi", "Mei", "Ana", "Ravi"):
            tg.start_soon(one, who)
    assert statuses.count(201) == 1 and set(statuses) <= {201, 409}, statuses
    active = [a for a in s.state("Mei")["attributes"] if a["status"] == "active"]
    assert len(active) == 1 and active[0]["name"].startswith("Merged by")

    # A definition longer than a version may keep never reaches the edits room (its guard refuses it).
    edits_url = s.server.room_url(f"study-{s.study}.group-{s.group}.edits")
    async with connect_doc(edits_url, headers=s.people["Ana"].cookie_headers) as ana:
        text = ana.doc.get("definitions", type=pycrdt.Map)[active[0]["id"]]
        text += "x" * 5000
        with anyio.fail_after(10):
            await ana.websocket.wait_closed()
        assert ana.websocket.close_code == 4422 and "longer than 4000" in (ana.websocket.close_reason or "")
    async with connect_doc(edits_url, headers=s.people["Ravi"].cookie_headers) as ravi:
        assert len(str(ravi.doc.get("definitions", type=pycrdt.Map)[active[0]["id"]])) < 4000
    kept = s.people["Ravi"].ok("POST", s.path(f"/discuss/attributes/{active[0]['id']}/versions"), {})
    assert len(kept["definition"]) < 4000


async def test_group_attributes_appear_as_cards_on_the_canvas_and_leave_it_when_merged(session: Session) -> None:
    s = session
    async with connect_live(live_url(s.server), s.lead.cookie_headers) as lead:
        await reach(s, lead, "discuss")
    first = attribute(s, "Ravi", "Historical accuracy", definition="Facts are right.")
    second = attribute(s, "Mei", "Factual correctness")
    board_url = s.server.room_url(f"study-{s.study}.group-{s.group}.board")
    async with connect_doc(board_url, headers=s.people["Ana"].cookie_headers) as ana:
        names = lambda doc: {c.content.text for c in read_cards(doc).values() if c.content.kind is CardKind.ATTRIBUTE}  # noqa: E731
        await ana.wait_for(lambda doc: names(doc) == {"Historical accuracy", "Factual correctness"})
        s.people["Ana"].ok("POST", s.path("/discuss/attributes/merge"),
                           {"ids": [first["id"], second["id"]], "name": "Getting the facts right"}, status=201)
        await ana.wait_for(lambda doc: names(doc) == {"Getting the facts right"})
