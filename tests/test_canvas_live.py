"""The semantic canvas on a real server: labels placed live into the group's board, codes following Reflect, hints.

One server for the module; every test makes its own study (a fresh board),
so no test reads another's cards. Participants watch the board as a stock
pycrdt client over the room websocket, as a browser's yjs would.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import numpy as np
import pycrdt
import pytest

from calma.canvas.board import CardKind, card_id, read_cards, read_hints
from calma.canvas.edits import HINTS, MOVES, Move, read_decisions, read_moves
from calma.canvas.placement import SPREAD, fresh_layout
from calma.embeddings.model import Embedder
from tests.helpers.lead import server_with_lead, sign_in_lead
from tests.helpers.api_client import Person
from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import DocClient, connect_doc

_studies = itertools.count(1)


@dataclass
class Group:
    server: ServerProcess
    facilitator: Person
    study: str
    group: str
    ravi: Person
    mei: Person
    obi: Person  # an observer

    def path(self, suffix: str = "") -> str:
        return f"/api/studies/{self.study}{suffix}"

    @property
    def board_url(self) -> str:
        return self.server.room_url(f"study-{self.study}.group-{self.group}.board")

    @property
    def edits_url(self) -> str:
        return self.server.room_url(f"study-{self.study}.group-{self.group}.edits")

    def write(self, person: Person, text: str) -> dict[str, Any]:
        card: dict[str, Any] = person.ok("POST", self.path("/canvas/labels"), {"text": text}, status=201)["card"]
        return card


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_with_lead(tmp_path_factory.mktemp("canvas") / "node") as node:
        yield node


@pytest.fixture
def group(server: ServerProcess) -> Group:
    lead = sign_in_lead(server, "facilitator")
    study = lead.ok("POST", "/api/studies", {"template": "pilot", "name": f"Canvas study {next(_studies)}"}, status=201)["id"]
    group = lead.ok("POST", f"/api/studies/{study}/groups", {"name": "History teachers"}, status=201)["id"]

    def join(name: str, role: str = "participant") -> Person:
        invite = lead.ok("POST", f"/api/studies/{study}/invites", {"group_id": group, "role": role}, status=201)
        return Person(server, name).join(invite["token"], name)

    return Group(server, lead, study, group, join("Ravi"), join("Mei"), join("Obi", "observer"))


def positions(doc: pycrdt.Doc, moves: dict[str, Move] | None = None) -> dict[str, tuple[float, float]]:
    return {key: (card.x, card.y) for key, card in read_cards(doc, moves).items()}


def card_of(doc: pycrdt.Doc, kind: CardKind, text: str) -> Any:
    return read_cards(doc).get(card_id(kind, text))


def watch(g: Group, person: Person) -> AbstractAsyncContextManager[DocClient]:
    """The group's board as this person's browser would sync it."""
    return connect_doc(g.board_url, headers=person.cookie_headers)


# -- a label appears on everyone's board, where its meaning belongs --------------------------------


async def test_a_label_one_participant_writes_appears_placed_on_the_others_board(group: Group) -> None:
    async with watch(group, group.mei) as mei:
        card = await anyio.to_thread.run_sync(group.write, group.ravi, "respects students' curiosity")
        assert card["kind"] == "label" and card["id"] == card_id(CardKind.LABEL, "respects students' curiosity")
        await mei.wait_for(lambda doc: card["id"] in read_cards(doc))
        seen = read_cards(mei.doc)[card["id"]]
        assert (seen.x, seen.y) == (pytest.approx(card["x"], abs=0.01), pytest.approx(card["y"], abs=0.01))
        assert seen.content.text == "respects students' curiosity"
        assert seen.content.authors == (), "the canvas is anonymous unless the study says otherwise"
        assert (seen.content.uses, seen.content.people) == (1, 1)

        # The same words again (any case, any spacing) are the same card, used once more.
        again = await anyio.to_thread.run_sync(group.write, group.mei, "Respects  students' curiosity")
        assert again["id"] == card["id"]
        await mei.wait_for(lambda doc: read_cards(doc)[card["id"]].content.uses == 2)
        assert len(read_cards(mei.doc)) == 1


NEAR = [
    ("safety-conscious", "careful about safety"),
    ("encouraging to beginners", "supportive of novices"),
    ("presents both sides of the debate", "balanced between viewpoints"),
    ("celebrates freedom fighters", "praises independence heroes"),
]
OTHERS = ["cites sources", "age-appropriate", "honest about uncertainty", "inclusive of women", "romanticizes the past"]


async def test_near_meanings_land_near_each_other_and_a_new_label_moves_nobody(group: Group) -> None:
    async with watch(group, group.mei) as mei:
        for a, b in NEAR:
            await anyio.to_thread.run_sync(group.write, group.ravi, a)
            await anyio.to_thread.run_sync(group.write, group.mei, b)
        for text in OTHERS[:2]:
            await anyio.to_thread.run_sync(group.write, group.ravi, text)
        await mei.wait_for(lambda doc: len(read_cards(doc)) == 2 * len(NEAR) + 2)
        board = positions(mei.doc)
        layout = mei.doc.get("layout", type=pycrdt.Map)
        assert int(layout["placedSinceRefit"]) + 1 < 10, "the next label is projected, not a refit"

        nearer = 0
        for a, b in NEAR:
            pa = np.array(board[card_id(CardKind.LABEL, a)])
            near = np.linalg.norm(pa - np.array(board[card_id(CardKind.LABEL, b)]))
            others = [np.linalg.norm(pa - np.array(p)) for key, p in board.items()
                      if key not in (card_id(CardKind.LABEL, a), card_id(CardKind.LABEL, b))]
            nearer += near < np.median(others)
        assert nearer >= len(NEAR) - 1, f"only {nearer} of {len(NEAR)} near pairs sit nearer than the median"

        last = await anyio.to_thread.run_sync(group.write, group.ravi, OTHERS[-1])
        await mei.wait_for(lambda doc: last["id"] in read_cards(doc))
        after = positions(mei.doc)
        assert {key: after[key] for key in board} == board, "a projected label moves nobody else"


async def test_a_refit_is_aligned_onto_the_old_layout_and_leaves_moved_cards_where_people_put_them(group: Group) -> None:
    async with watch(group, group.mei) as mei:
        first = [*itertools.chain.from_iterable(NEAR), *OTHERS[:3]]
        for text in first:
            await anyio.to_thread.run_sync(group.write, group.ravi, text)
        await mei.wait_for(lambda doc: len(read_cards(doc)) == len(first))
        # Mei drags one card far away, as the browser does: {x, y, movedBy} in the group's edits room.
        dragged = card_id(CardKind.LABEL, "cites sources")
        async with connect_doc(group.edits_url, headers=group.mei.cookie_headers) as edits:
            edits.doc.get(MOVES, type=pycrdt.Map)[dragged] = {"x": 4321.0, "y": -1234.0, "movedBy": "Mei"}
            async with connect_doc(group.edits_url, headers=group.ravi.cookie_headers) as seen:
                await seen.wait_for(lambda doc: dragged in read_moves(doc))
            moved = read_moves(edits.doc)
            before = positions(mei.doc, moved)
            refits = int(mei.doc.get("layout", type=pycrdt.Map).get("refits", 0))
            for text in MORE:
                await anyio.to_thread.run_sync(group.write, group.mei, text)
            await mei.wait_for(lambda doc: int(doc.get("layout", type=pycrdt.Map).get("refits", 0)) > refits)
            await mei.wait_for(lambda doc: len(read_cards(doc)) == len(first) + len(MORE))
            after = positions(mei.doc, read_moves(edits.doc))
            assert read_cards(mei.doc)[dragged].pinned is False, "the board is the server's: moves are in the edits"
    assert after[dragged] == (4321.0, -1234.0), "a card a person moved stays where they put it"
    moved = [key for key in before if key != dragged]
    aligned = np.mean([np.linalg.norm(np.subtract(after[key], before[key])) for key in moved])
    # The same refit without the alignment: a fresh layout of every card, as `calma map` would draw it.
    texts = [read_text(key, first + MORE) for key in after]
    fresh = fresh_layout(await Embedder().embed(texts))
    unaligned = np.mean([np.linalg.norm(fresh[list(after).index(key)] - np.array(before[key])) for key in moved])
    print(f"refit after {len(MORE)} labels: mean move {aligned:.0f} aligned, {unaligned:.0f} unaligned (spread {SPREAD:g})")
    assert aligned < unaligned, "aligning the refit onto the old layout moves cards less"
    assert aligned < SPREAD


MORE = ["patient with mistakes", "funny", "empathetic towards victims", "rigorous about dates", "fair to every region",
        "clear language", "warm tone", "precise terminology", "respectful of religions", "brave about hard topics"]


def read_text(key: str, texts: list[str]) -> str:
    return next(text for text in texts if card_id(CardKind.LABEL, text) == key)


# -- Reflect's codes, once released, are cards with their counts and excerpts ------------------------


def code_baseline(g: Group, person: Person, codes: list[str], *, item_index: int = 0) -> None:
    g.facilitator.ok("PUT", g.path("/stage-overrides"), {"group_id": g.group, "stage": "reflect", "state": "open"})
    items = [i for i in person.ok("GET", g.path("/reflect"))["items"] if i["kind"] == "baseline"]
    item = items[item_index]
    phrase = item["text"][:40]
    op = {"kind": "annotation.create", "id": uuid.uuid4().hex[:16],
          "target_kind": "baseline", "target_id": item["id"], "start": 0, "end": len(phrase), "quote": phrase,
          "codes": codes}
    outcome = person.ok("POST", g.path("/reflect/ops"), {"ops": [{"op_id": op["id"], "op": op}]})
    assert outcome["outcomes"][0]["status"] == "applied", outcome


async def test_released_codes_become_cards_that_follow_coding_with_counts_authors_and_excerpts(group: Group) -> None:
    code_baseline(group, group.ravi, ["sparks curiosity", "Eurocentric"])
    code_baseline(group, group.mei, ["Sparks curiosity"], item_index=1)
    async with watch(group, group.mei) as mei:
        assert group.facilitator.ok("POST", group.path("/canvas/refresh"), {"group_id": group.group})["codes"] == 0
        assert read_cards(mei.doc) == {}, "nothing is shared before the facilitator releases the codes"

        group.facilitator.ok("PUT", group.path("/reflect/settings"), {"codes_released": True})
        curiosity = card_id(CardKind.CODE, "sparks curiosity")
        await mei.wait_for(lambda doc: curiosity in read_cards(doc) and len(read_cards(doc)) == 2)
        card = read_cards(mei.doc)[curiosity]
        assert (card.content.uses, card.content.people, card.content.authors) == (2, 2, ())

        detail = group.mei.ok("GET", group.path(f"/canvas/cards/{curiosity}"))
        assert detail["authors"] == [] and {e["source"] for e in detail["excerpts"]} == {"baseline"}
        assert len(detail["excerpts"]) == 2 and all(e["prompt"] for e in detail["excerpts"])

        group.facilitator.ok("PATCH", group.path(), {"discuss": {"anonymous_canvas": False}})
        await mei.wait_for(lambda doc: read_cards(doc)[curiosity].content.authors == ("Mei", "Ravi"))

        code_baseline(group, group.ravi, ["romanticizes the past"], item_index=2)
        past = card_id(CardKind.CODE, "romanticizes the past")
        await mei.wait_for(lambda doc: past in read_cards(doc))
        assert read_cards(mei.doc)[past].content.authors == ("Ravi",)

        group.facilitator.ok("PATCH", group.path(), {"discuss": {"anonymous_canvas": True}})
        await mei.wait_for(lambda doc: all(not c.content.authors for c in read_cards(doc).values()))


# -- hints are suggestions; the group decides --------------------------------------------------------


async def test_near_duplicates_are_open_hints_that_the_group_may_dismiss_and_nothing_is_merged(group: Group) -> None:
    labels = ["honest", "honesty", "being truthful", "cites sources", "uses primary sources", "patriotic"]
    async with watch(group, group.mei) as mei:
        for text in labels:
            await anyio.to_thread.run_sync(group.write, group.ravi, text)
        honest, honesty = card_id(CardKind.LABEL, "honest"), card_id(CardKind.LABEL, "honesty")

        def pair_hint(doc: pycrdt.Doc) -> Any:
            return next((h for h in read_hints(doc).values() if {honest, honesty} <= set(h.cards)), None)

        await mei.wait_for(lambda doc: len(read_cards(doc)) == len(labels) and pair_hint(doc) is not None)
        hint = pair_hint(mei.doc)
        assert hint.status.value == "open"
        async with connect_doc(group.edits_url, headers=group.mei.cookie_headers) as edits:  # Mei dismisses it
            edits.doc.get(HINTS, type=pycrdt.Map)[hint.id] = {"status": "dismissed", "decidedBy": "Mei"}

        async with watch(group, group.ravi) as ravi, connect_doc(group.edits_url, headers=group.ravi.cookie_headers) as decided:
            await decided.wait_for(lambda doc: hint.id in read_decisions(doc))
            assert read_hints(ravi.doc, read_decisions(decided.doc))[hint.id].status.value == "dismissed"
            await anyio.to_thread.run_sync(group.write, group.ravi, "loves trivia")
            await ravi.wait_for(lambda doc: card_id(CardKind.LABEL, "loves trivia") in read_cards(doc))
            assert hint.id in read_hints(ravi.doc), "the server never removes a decided hint"
            assert read_hints(ravi.doc, read_decisions(decided.doc))[hint.id].status.value == "dismissed"
            assert len(read_cards(ravi.doc)) == len(labels) + 1, "nothing was merged"


# -- who may do what, and bad input ------------------------------------------------------------------


def test_the_canvas_tells_each_person_their_board_and_what_they_may_do(group: Group) -> None:
    room = f"study-{group.study}.group-{group.group}.board"
    ravi = group.ravi.ok("GET", group.path("/canvas"))
    assert (ravi["room"], ravi["can_write"], ravi["can_steer"], ravi["anonymous"]) == (room, True, False, True)
    assert ravi["edits_room"] == f"study-{group.study}.group-{group.group}.edits"
    obi = group.obi.ok("GET", group.path("/canvas"))
    assert (obi["can_write"], obi["can_steer"]) == (False, False)
    lead = group.facilitator.ok("GET", group.path(f"/canvas?group_id={group.group}"))
    assert (lead["can_write"], lead["can_steer"], lead["group_name"]) == (True, True, "History teachers")


@pytest.mark.parametrize(("who", "method", "suffix", "body", "status", "detail"), [
    ("ravi", "POST", "/canvas/labels", {"text": ""}, 422, "text"),
    ("ravi", "POST", "/canvas/labels", {"text": "   "}, 422, "text"),
    ("ravi", "POST", "/canvas/labels", {"text": "x" * 201}, 422, "text"),
    ("ravi", "POST", "/canvas/labels", {"text": 5}, 422, "text"),
    ("ravi", "POST", "/canvas/labels", {"text": "ok", "colour": "red"}, 422, "colour"),
    ("ravi", "POST", "/canvas/labels", {"text": "ok", "group_id": "0" * 16}, 404, "group"),
    ("obi", "POST", "/canvas/labels", {"text": "ok"}, 403, "observers"),
    ("anonymous", "POST", "/canvas/labels", {"text": "ok"}, 401, ""),
    ("facilitator", "POST", "/canvas/labels", {"text": "ok"}, 422, "group_id"),
    ("ravi", "GET", "/canvas/cards/c-0000000000000000", None, 404, "card"),
    ("ravi", "POST", "/canvas/refresh", {"group_id": "{group}"}, 403, "facilitator"),
    ("facilitator", "POST", "/canvas/refresh", {}, 422, "group_id"),
])  # fmt: skip
def test_bad_or_unauthorized_requests_get_clear_problems_and_change_nothing(
    group: Group, who: str, method: str, suffix: str, body: Any, status: int, detail: str
) -> None:
    person = {"ravi": group.ravi, "obi": group.obi, "facilitator": group.facilitator,
              "anonymous": Person(group.server, "anonymous")}[who]
    if isinstance(body, dict):
        body = {key: value.format(group=group.group) if isinstance(value, str) and "{" in value else value
                for key, value in body.items()}
    response = person.request(method, group.path(suffix), json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert re.search(detail, response.text, re.IGNORECASE)
    assert group.facilitator.ok("GET", group.path(f"/canvas?group_id={group.group}"))["cards"] == 0


def test_an_oversized_or_malformed_body_is_refused(group: Group) -> None:
    big = group.ravi.request("POST", group.path("/canvas/labels"), content=b'{"text": "' + b"x" * 2_000_000 + b'"}',
                             headers={"content-type": "application/json"})
    assert big.status_code == 413
    broken = group.ravi.request("POST", group.path("/canvas/labels"), content=b'{"text": ',
                                headers={"content-type": "application/json"})
    assert broken.status_code == 400
    other = httpx.get(group.server.http_url + group.path("/canvas"))
    assert other.status_code == 401


async def test_a_forged_code_card_is_never_stored_and_placement_carries_on(group: Group) -> None:
    code_baseline(group, group.ravi, ["ravi's private code"])
    secret = card_id(CardKind.CODE, "ravi's private code")
    async with watch(group, group.mei) as mei:
        cards = mei.doc.get("cards", type=pycrdt.Map)
        with mei.doc.transaction():  # Mei forges a code card far out: the board is read-only, the server drops it
            cards[secret] = pycrdt.Map({"text": "ravi's private code", "kind": "code", "authors": [], "uses": 1,
                                        "people": 1, "x": 1.7e308, "y": -1.7e308, "placedAt": 0})
        for text in ("kind", "patient", "fair", "curious"):
            card = await anyio.to_thread.run_sync(group.write, group.ravi, text)
            assert np.isfinite([card["x"], card["y"]]).all()
        async with watch(group, group.ravi) as ravi:
            await ravi.wait_for(lambda doc: len(read_cards(doc)) == 4)
            assert secret not in read_cards(ravi.doc), "nobody else ever saw it"
        missing = group.mei.request("GET", group.path(f"/canvas/cards/{secret}"))
        assert missing.status_code == 404, missing.text
