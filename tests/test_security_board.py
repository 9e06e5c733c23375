"""A hostile participant against a group's board, on a real server (issue 15, items 3, 4 and 5).

Ravi is a participant of Lena's group "History teachers", Mei is another, Obi
observes. The board room is the server's: nobody may write it, Lena included.
What people change (card moves, hint decisions, definitions) goes to the
group's edits room, whose guard checks every update against the schema and
against what the sender may do before anything is stored. Ravi tries it all:
forged cards, negative counts, cards at 1e308, deep values under unknown keys,
other people's names, oversized values; each attempt closes his connection
with 4422 (or 4413 for size), nothing is stored, Mei stays connected and the
canvas and the report still answer. Then the definitions: editable in
segment 4 only, frozen as a version when segment 5 starts, and the exports say
which version was rated even after Lena changes the wording afterwards.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pycrdt
import pytest
from pycrdt import create_update_message

from calma.canvas import edits
from calma.canvas.board import CARDS, read_cards
from calma.canvas.edits_guard import EditsGuard
from calma.hub.close_codes import CloseCode, RoomClosed
from calma.hub.connection import Identity
from calma.hub.trial import apply_to_copy
from calma.studies.rooms import StudyRoom
from tests.helpers import lib0
from tests.helpers.api_client import Person
from tests.helpers.lead import server_with_lead, sign_in_lead
from tests.helpers.live_client import connect_live, live_url
from tests.helpers.room_probe import READ_ONLY, probe_room
from tests.helpers.server import REPO, ServerProcess
from tests.helpers.ydoc_client import DocClient, connect_doc

_studies = itertools.count(1)
REFUSED = int(CloseCode.EDIT_REFUSED)
TOO_LARGE = int(CloseCode.DOCUMENT_TOO_LARGE)


@dataclass
class Group:
    server: ServerProcess
    lena: Person
    study: str
    group: str
    ravi: Person
    mei: Person
    obi: Person
    card: str = ""  # a card on the board (Ravi's label)

    def path(self, suffix: str = "") -> str:
        return f"/api/studies/{self.study}{suffix}"

    def url(self, kind: str) -> str:
        return self.server.room_url(f"study-{self.study}.group-{self.group}.{kind}")

    async def segment(self, segment: str) -> None:
        async with connect_live(live_url(self.server), self.lena.cookie_headers) as live:
            answer, _ = await live.command(self.study, self.group, {"name": "segment.set", "segment": segment})
            assert answer["type"] == "ack", answer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_with_lead(tmp_path_factory.mktemp("board") / "node") as node:
        yield node


@pytest.fixture
def group(server: ServerProcess) -> Group:
    lena = sign_in_lead(server)
    study = lena.ok("POST", "/api/studies", {"template": "pilot", "name": f"Board {next(_studies)}"}, status=201)["id"]
    group_id = lena.ok("POST", f"/api/studies/{study}/groups", {"name": "History teachers"}, status=201)["id"]

    def join(name: str, role: str = "participant") -> Person:
        invite = lena.ok("POST", f"/api/studies/{study}/invites", {"group_id": group_id, "role": role}, status=201)
        return Person(server, name).join(invite["token"], name)

    g = Group(server, lena, study, group_id, join("Ravi"), join("Mei"), join("Obi", "observer"))
    g.card = g.ravi.ok("POST", g.path("/canvas/labels"), {"text": "cites its sources"}, status=201)["card"]["id"]
    return g


async def attempt(url: str, person: Person, change: Callable[[pycrdt.Doc], None]) -> tuple[int | None, str]:
    """Sync the room as a browser would, make `change`, and wait for the server to close the connection."""
    async with connect_doc(url, headers=person.cookie_headers) as client:
        change(client.doc)
        with anyio.fail_after(10):
            await client.websocket.wait_closed()
        return client.websocket.close_code, client.websocket.close_reason or ""


async def snapshot(url: str, person: Person) -> pycrdt.Doc:
    async with connect_doc(url, headers=person.cookie_headers) as client:
        return client.doc


def move(x: float = 10.0, y: float = 20.0, by: str = "Ravi", **extra: Any) -> dict[str, Any]:
    return {"x": x, "y": y, "movedBy": by, **extra}


def moves(doc: pycrdt.Doc) -> pycrdt.Map:
    return doc.get(edits.MOVES, type=pycrdt.Map)


# -- the board is the server's ----------------------------------------------------------------------


async def test_nobody_writes_the_board_not_even_the_facilitator(group: Group) -> None:
    for person in (group.ravi, group.mei, group.lena, group.obi):
        assert await probe_room(group.url("board"), person.cookie_headers) == READ_ONLY, person
    assert await probe_room(group.url("edits"), group.obi.cookie_headers) == READ_ONLY
    # a label written straight into the edits room is not part of its schema
    assert await probe_room(group.url("edits"), group.ravi.cookie_headers) == str(REFUSED)


# -- what Ravi tries in the edits room ----------------------------------------------------------------


def _forged_card(doc: pycrdt.Doc, card: str) -> None:
    doc.get(CARDS, type=pycrdt.Map)["c-00000000000000ff"] = pycrdt.Map(
        {"text": "forged", "kind": "top3", "authors": ["Mei", "Lena"], "uses": 9, "people": 9, "x": 0.0, "y": 0.0})


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


ATTACKS: dict[str, tuple[Callable[[pycrdt.Doc, str], None], str]] = {
    "a forged top-three card with fake authors": (_forged_card, "may not create shared types"),
    "a negative count": (lambda doc, card: moves(doc).__setitem__(card, move(people=-5)), "moves["),
    "a card at 1e308": (lambda doc, card: moves(doc).__setitem__(card, move(x=1e308)), "finite"),
    "a deep value under a key the server never reads":
        (lambda doc, card: moves(doc).__setitem__(card, move(notes=_deep(25))), "moves["),
    "a deep value under a top-level name nobody reads":
        (lambda doc, card: doc.get("notes", type=pycrdt.Map).__setitem__("x", _deep(25)), "unknown top-level name"),
    "a key that is no card id": (lambda doc, card: moves(doc).__setitem__("../../cards", move()), "does not match"),
    "an oversized name": (lambda doc, card: moves(doc).__setitem__(card, move(by="R" * 100_000)), "moves["),
    "a shared type where a plain value goes":
        (lambda doc, card: moves(doc).__setitem__(card, pycrdt.Map(move())), "may not create shared types"),
    "someone else's name": (lambda doc, card: moves(doc).__setitem__(card, move(by="Mei")), "your own name"),
    "a card that is not on the board":
        (lambda doc, card: moves(doc).__setitem__("c-0123456789abcdef", move()), "not on the board"),
    "a hint decision that is no decision":
        (lambda doc, card: doc.get(edits.HINTS, type=pycrdt.Map).__setitem__(
            "h-0123456789abcdef", {"status": "merged", "decidedBy": "Ravi"}), "hints["),
    "a definition the server did not create":
        (lambda doc, card: doc.get(edits.DEFINITIONS, type=pycrdt.Map).__setitem__(
            "0123456789abcdef", pycrdt.Text("mine")), "may not create shared types"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_each_forged_edit_is_refused_nothing_is_stored_and_the_others_carry_on(group: Group, attack: str) -> None:
    change, why = ATTACKS[attack]
    async with connect_doc(group.url("edits"), headers=group.mei.cookie_headers) as mei:
        code, reason = await attempt(group.url("edits"), group.ravi, lambda doc: change(doc, group.card))
        # A Y type made by a client is refused by the hub's bounded walk (4400) before the guard looks at it.
        assert code == (4400 if "shared types" in why else REFUSED), (code, reason)
        assert why in reason, reason

        # Nothing was stored: a newcomer's copy has none of it, and Mei's connection is still open.
        fresh = await snapshot(group.url("edits"), group.lena)
        assert set(fresh.keys()) <= set(edits.NAMES)
        assert edits.problems(fresh) is None
        assert dict(moves(fresh).items()) == {}
        assert mei.websocket.close_code is None

        # Mei's own move goes through and reaches Ravi's next connection.
        moves(mei.doc)[group.card] = move(123.0, -45.0, by="Mei")
        async with connect_doc(group.url("edits"), headers=group.ravi.cookie_headers) as ravi:
            await ravi.wait_for(lambda doc: edits.read_moves(doc).get(group.card) == edits.Move(123.0, -45.0, "Mei"))

    # The server's readers never noticed: the canvas, the card and the report answer.
    group.ravi.ok("GET", group.path("/canvas"))
    detail = group.ravi.ok("GET", group.path(f"/canvas/cards/{group.card}"))
    assert detail["people"] == 1
    report = group.lena.request("GET", group.path(f"/outputs/report.html?group_id={group.group}"))
    assert report.status_code == 200, report.text


async def test_an_edit_that_yrs_cannot_integrate_is_refused_before_it_is_stored(group: Group) -> None:
    honest = pycrdt.Doc(client_id=5)
    async with connect_doc(group.url("edits"), honest, headers=group.ravi.cookie_headers):
        moves(honest)[group.card] = move()  # item (5, 0): a plain value, not a shared type
        async with connect_doc(group.url("edits"), headers=group.mei.cookie_headers) as mei:
            await mei.wait_for(lambda doc: group.card in edits.read_moves(doc))
    # Decodes, but its parent (5, 0) is no shared type: Yrs refuses it only while integrating it.
    attack = lib0.any_under_item((5, 0), lib0.encode_any("boom"))

    async with connect_doc(group.url("edits"), headers=group.ravi.cookie_headers) as ravi:
        await ravi.websocket.send(lib0.update_frame(attack))
        with anyio.fail_after(10):
            await ravi.websocket.wait_closed()
        assert ravi.websocket.close_code == 4400, ravi.websocket.close_reason
        assert "does not apply" in (ravi.websocket.close_reason or "")
    fresh = await snapshot(group.url("edits"), group.lena)
    assert edits.problems(fresh) is None and group.card in edits.read_moves(fresh)


@pytest.mark.parametrize("which", ["a change", "a deletion"])
async def test_an_update_that_leaves_something_pending_is_refused(group: Group, which: str) -> None:
    # Updates from one client; sending only a later one leaves it waiting for the earlier (to apply unchecked, later).
    doc = pycrdt.Doc()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    moves(doc)[group.card] = move()
    moves(doc)[group.card] = move(x=1e308)
    del moves(doc)[group.card]
    async with connect_doc(group.url("edits"), headers=group.ravi.cookie_headers) as ravi:
        await ravi.websocket.send(create_update_message(updates[1 if which == "a change" else 2]))
        with anyio.fail_after(10):
            await ravi.websocket.wait_closed()
        assert ravi.websocket.close_code == 4400  # the hub refuses pending updates in every room
        assert "pending" in (ravi.websocket.close_reason or "")
    assert dict(moves(await snapshot(group.url("edits"), group.lena)).items()) == {}


async def test_a_drag_moves_the_card_for_everyone_and_a_refit_leaves_it_there(group: Group) -> None:
    async with connect_doc(group.url("edits"), headers=group.ravi.cookie_headers) as ravi:
        moves(ravi.doc)[group.card] = move(4321.0, -1234.0)
        async with connect_doc(group.url("edits"), headers=group.mei.cookie_headers) as mei:
            await mei.wait_for(lambda doc: group.card in edits.read_moves(doc))
    # Enough new labels for a refit: the moved card stays where Ravi put it (the server reads the edits room).
    for index in range(12):
        group.mei.ok("POST", group.path("/canvas/labels"), {"text": f"value number {index} of the group"}, status=201)
    board = await snapshot(group.url("board"), group.lena)
    layout = board.get("layout", type=pycrdt.Map)
    assert layout.get("refits", 0) >= 1
    edited = await snapshot(group.url("edits"), group.lena)
    card = read_cards(board, edits.read_moves(edited))[group.card]
    assert (card.x, card.y, card.pinned) == (4321.0, -1234.0, True)


# -- definitions: segment 4 only, frozen for the vote, versioned after -----------------------------


async def test_definitions_change_in_segment_4_only_and_the_export_says_which_version_was_rated(group: Group) -> None:
    await group.segment("discuss")
    attribute = group.ravi.ok("POST", group.path("/discuss/attributes"),
                              {"name": "Historical accuracy", "definition": "Facts are right."}, status=201)["id"]

    def edit(words: str) -> Callable[[pycrdt.Doc], None]:
        def change(doc: pycrdt.Doc) -> None:
            text = doc.get(edits.DEFINITIONS, type=pycrdt.Map)[attribute]
            text.insert(len(text), words)
        return change

    # Segment 4: the group edits the wording together.
    async with connect_doc(group.url("edits"), headers=group.ravi.cookie_headers) as ravi:
        edit(" Dates too.")(ravi.doc)
        async with connect_doc(group.url("edits"), headers=group.mei.cookie_headers) as mei:
            await mei.wait_for(lambda doc: edits.read_definitions(doc).get(attribute) == "Facts are right. Dates too.")

    # Segment 5: the wording is frozen as a version; nobody edits it on the board.
    await group.segment("rate")
    code, reason = await attempt(group.url("edits"), group.ravi, edit(" And names."))
    assert code == REFUSED and "segment 4" in reason, (code, reason)
    history = group.lena.ok("GET", group.path(f"/discuss/attributes/{attribute}/history?group_id={group.group}"))
    rated = history["versions"][-1]
    assert rated["op"] == "rate" and rated["snapshot"]["definition"] == "Facts are right. Dates too."
    for person in (group.ravi, group.mei):
        person.ok("PUT", group.path("/discuss/ratings"), {"likert": {attribute: 4}, "ranking": [attribute]})
    await group.segment("closed")

    # After the vote: the board refuses (Lena too), REST refuses participants, Lena's change is a new version.
    code, reason = await attempt(group.url("edits"), group.lena, edit(" Lena's words."))
    assert code == REFUSED and "segment 4" in reason, (code, reason)
    refused = group.ravi.request("PATCH", group.path(f"/discuss/attributes/{attribute}"), {"definition": "Anything."})
    assert refused.status_code == 409, refused.text
    group.lena.ok("PATCH", group.path(f"/discuss/attributes/{attribute}"),
                  {"definition": "Facts, dates and names are right.", "group_id": group.group})
    history = group.lena.ok("GET", group.path(f"/discuss/attributes/{attribute}/history?group_id={group.group}"))
    assert [v["op"] for v in history["versions"]][-2:] == ["rate", "update"]

    axes = group.lena.ok("GET", group.path(f"/outputs/axes.json?group_id={group.group}"))
    axis = next(a for a in axes["axes"] if a["id"] == attribute)
    assert axis["definition"] == "Facts, dates and names are right."
    assert axis["rated_version"] == rated["version"] and axis["version"] == rated["version"] + 1
    assert axis["rated_definition"] == "Facts are right. Dates too."
    rubric = group.lena.ok("GET", group.path(f"/outputs/rubrics.json?group_id={group.group}"))["rubrics"][0]
    assert rubric["rated_version"] == rated["version"]
    report = group.lena.request("GET", group.path(f"/outputs/report.html?group_id={group.group}"))
    assert report.status_code == 200 and "Facts are right. Dates too." in report.text
    markdown = group.lena.request("GET", group.path(f"/outputs/axes.md?group_id={group.group}")).text
    assert f"Rated (version {rated['version']})" in markdown


# -- a document never grows past what a newcomer can receive ------------------------------------------


async def test_a_room_is_never_filled_past_what_a_newcomer_can_receive(group: Group) -> None:
    # Ravi's private room has no schema: he fills it with 800 KB updates until the hub refuses (4413).
    url = group.server.room_url(StudyRoom.private(group.study, group.group, group.ravi.me["participant_id"]).name)
    code: int | None = None
    written = 0
    async with connect_doc(url, headers=group.ravi.cookie_headers) as ravi:
        notes = ravi.doc.get("notes", type=pycrdt.Map)
        for round_ in range(20):
            with ravi.doc.transaction():
                for part in range(4):
                    notes[f"{round_}-{part}"] = chr(ord("a") + part) * 200_000
            if ravi.websocket.close_code is not None:
                break
            written += 1
            try:  # the server answers each update before the next one is read; a ping round-trip waits for that
                with anyio.fail_after(10):
                    await (await ravi.websocket.ping())
            except Exception:
                break
        with anyio.fail_after(10):
            await ravi.websocket.wait_closed()
        code = ravi.websocket.close_code
    assert code == TOO_LARGE, code
    assert written >= 4
    # A newcomer (Ravi again, on another device) still receives the whole document: less than was sent.
    async with connect_doc(url, headers=group.ravi.cookie_headers, sync_timeout=30) as again:
        stored = len(again.doc.get("notes", type=pycrdt.Map))
        assert 4 * 4 <= stored < 4 * 10, stored
        assert len(again.doc.get_update()) <= 6 * 1024 * 1024
        assert again.websocket.close_code is None


def test_the_server_refuses_limits_that_would_lock_newcomers_out(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "calma", "serve", "--port", "0", "--data-dir", str(tmp_path),
         "--max-document-bytes", str(32 * 1024 * 1024)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "newcomer" in done.stderr


class _Room:
    """Just enough of a hub Room for the guard: its document, and trying an update on a copy of it."""

    def __init__(self, doc: pycrdt.Doc) -> None:
        self.doc = doc

    def try_update(self, update: bytes, *, prepare: Callable[[pycrdt.Doc], object] | None = None) -> pycrdt.Doc:
        return apply_to_copy(self.doc, update, prepare=prepare)


class _Rooms:
    """Just enough of a RoomManager for the guard: the board holds the cards it is given."""

    def __init__(self, cards: list[str]) -> None:
        self.board = pycrdt.Doc()
        for key in cards:
            self.board.get(CARDS, type=pycrdt.Map)[key] = pycrdt.Map({"text": key})

    async def acquire(self, name: str) -> _Room:
        return _Room(self.board)

    def release(self, room: _Room) -> None:
        pass


class _Connection:
    def __init__(self, name: str) -> None:
        self.identity = Identity(f"participant:{name}", name, "participant")


async def test_one_person_cannot_take_the_whole_edits_document() -> None:
    cards = [f"c-{index:016x}" for index in range(4000)]
    rooms = _Rooms(cards)
    guard = EditsGuard(StudyRoom.edits("0" * 16, "1" * 16), lambda: rooms)  # type: ignore[arg-type,return-value]
    room = _Room(pycrdt.Doc())
    ravi = _Connection("R" * 80)
    refused: RoomClosed | None = None
    for start in range(0, len(cards), 100):
        client = pycrdt.Doc()
        client.apply_update(room.doc.get_update())
        updates: list[bytes] = []
        client.observe(lambda event: updates.append(event.update))
        with client.transaction():
            for key in cards[start:start + 100]:
                moves(client)[key] = move(by=ravi.identity.name)
        try:
            await guard.check(room, ravi, updates[0])  # type: ignore[arg-type]
        except RoomClosed as exc:
            refused = exc
            break
        room.doc.apply_update(updates[0])
    assert refused is not None and refused.code is CloseCode.DOCUMENT_TOO_LARGE, refused
    assert len(room.doc.get_update()) <= edits.MAX_BYTES_PER_PERSON + 20_000
    # Mei may still move cards.
    client = pycrdt.Doc()
    client.apply_update(room.doc.get_update())
    updates = []
    client.observe(lambda event: updates.append(event.update))
    moves(client)[cards[0]] = move(by="Mei")
    await guard.check(room, _Connection("Mei"), updates[0])  # type: ignore[arg-type]
