"""The live canvas: places the group's labels into its board room, and keeps the released Reflect codes on it.

`place` embeds cards, finds where they go (`placement`: projected next to
their neighbours as the board stands, or — now and then — a refit aligned
onto the current layout), suggests groupings (`grouping`) and writes it all
into the group's board room as the server, in one durable update. Requests for
one group that arrive together are placed in one pass (one embedding batch,
one fit, one update). `run` follows Reflect: when a participant's codes
change, or the facilitator releases them, the group's code cards are brought
up to date. This module never decides anything for the group: hints are
written as open suggestions; accepting or dismissing them is the group's (in
the edits document, `calma.canvas.edits`, which also holds where people moved
cards: refits leave those cards where people put them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import anyio.to_thread
import numpy as np
import pycrdt
from anyio.abc import TaskStatus

from calma.canvas.board import (
    Card,
    CardContent,
    CardKind,
    Hint,
    count_layout,
    hint_id,
    layout_counter,
    move_cards,
    put_card,
    read_cards,
    remove_cards,
    sync_hints,
    update_card,
)
from calma.canvas.edits import Decision, Move, forget_cards, read_decisions, read_moves
from calma.canvas.grouping import suggest
from calma.canvas.locks import BoardLocks, NoBoardLocks
from calma.canvas.placement import MIN_FITTED, Plane, fit_plane, fresh_layout, project_onto, relayout
from calma.embeddings.model import Embedder
from calma.hub.rooms import RoomManager
from calma.observability import metrics
from calma.reflect.model import TargetKind
from calma.reflect.service import ReflectService
from calma.studies.model import Participant, Study
from calma.studies.rooms import StudyRoom, parse_study_room
from calma.studies.store import StudyStore

log = logging.getLogger(__name__)

REFIT_AT_LEAST = 10  # refit once this many cards (or a quarter of the board, if more) were projected
MAX_EXCERPTS = 30
RETRY_AFTER_S = 5.0  # a failed update of the code cards is tried again after this long


def refit_due(placed_since_refit: int, board_size: int) -> bool:
    return placed_since_refit >= max(REFIT_AT_LEAST, board_size // 4)


@dataclass
class _Request:
    contents: list[CardContent]
    replace_kind: CardKind | None
    accumulate: bool
    anonymous: bool = False
    done: anyio.Event = field(default_factory=anyio.Event)
    positions: dict[str, tuple[float, float]] | None = None
    error: BaseException | None = None


class PlacingInterrupted(RuntimeError):
    """The pass that held this request was cancelled before it finished."""


class BoardFull(RuntimeError):
    """The board is near the size a newcomer can receive: people's new labels wait for a new board."""


LABELS_UNTIL = 0.75  # share of the board's size limit up to which people's labels are placed (the rest: the server's cards)


@dataclass(frozen=True)
class Excerpt:
    quote: str
    source: str  # "baseline", "own" or "shared"
    prompt: str


class CanvasService:
    def __init__(self, rooms: Callable[[], RoomManager], embedder: Embedder, studies: StudyStore,
                 reflect: Callable[[], ReflectService], *, clock: Callable[[], float] = time.time,
                 board_locks: BoardLocks | None = None, max_board_bytes: int | None = None) -> None:
        self._rooms = rooms
        self._max_board_bytes = max_board_bytes  # the rooms' document limit: what a newcomer can receive
        self._board_locks = board_locks or NoBoardLocks()
        self._embedder = embedder
        self._studies = studies
        self._reflect = reflect
        self._clock = clock
        self._pending: dict[str, list[_Request]] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._planes: dict[str, Plane] = {}  # board room → the projection fitted at its last refit (on this node)
        self._stale: set[tuple[str, str]] = set()  # (study, participant or "group:<id>") whose code cards may be stale
        self._hints_stale: set[tuple[str, str]] = set()  # (study, group) whose hints may be out of date
        self._retry: set[tuple[str, str]] = set()  # stale entries whose update failed, for the next round
        self._stale_added = anyio.Event()

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    async def cards(self, study_id: str, group_id: str) -> dict[str, Card]:
        """The cards on the group's board now, where people moved them."""
        moves = (await self.edits(study_id, group_id))[0]
        rooms = self._rooms()
        room = await rooms.acquire(StudyRoom.board(study_id, group_id).name)
        try:
            return read_cards(room.doc, moves)
        finally:
            rooms.release(room)

    async def edits(self, study_id: str, group_id: str) -> tuple[dict[str, Move], dict[str, Decision]]:
        """What the group changed on its board: the moves of cards and the decisions on hints."""
        rooms = self._rooms()
        room = await rooms.acquire(StudyRoom.edits(study_id, group_id).name)
        try:
            return read_moves(room.doc), read_decisions(room.doc)
        finally:
            rooms.release(room)

    async def _forget(self, study_id: str, group_id: str, cards: list[str]) -> None:
        """Cards that left the board: their moves leave the edits document too."""
        rooms = self._rooms()
        room = await rooms.acquire(StudyRoom.edits(study_id, group_id).name)
        try:
            if any(key in read_moves(room.doc) for key in cards):
                await room.write_as_server(lambda doc: forget_cards(doc, cards))
        finally:
            rooms.release(room)

    # -- placing -----------------------------------------------------------------------------------

    async def place(self, study_id: str, group_id: str, contents: Sequence[CardContent], *,
                    replace_kind: CardKind | None = None, accumulate: bool = False,
                    anonymous: bool = False) -> dict[str, tuple[float, float]]:
        """Put cards on the group's board; returns each card's position.

        `replace_kind`: `contents` are all the cards of that kind (others of the kind go).
        `accumulate`: a card that is already there counts one more use (a label written again).
        `anonymous`: the study keeps the canvas anonymous: every card on the board loses its authors.
        """
        room = StudyRoom.board(study_id, group_id).name
        if self._max_board_bytes is not None and any(c.kind is CardKind.LABEL for c in contents):
            if await self._board_bytes(room) > self._max_board_bytes * LABELS_UNTIL:
                raise BoardFull("the board is full: it holds as much as a newcomer's browser can receive")
        request = _Request(list(contents), replace_kind, accumulate, anonymous)
        self._pending.setdefault(room, []).append(request)
        async with self._locks.setdefault(room, anyio.Lock()):
            if not request.done.is_set():
                batch = self._pending.pop(room, [])
                try:
                    await self._place_batch(room, batch)
                except Exception as exc:
                    log.error("could not place cards on the canvas", extra={"room": room, "error": str(exc)}, exc_info=True)
                    for waiting in batch:
                        waiting.error = exc
                finally:
                    for waiting in batch:
                        if waiting.positions is None and waiting.error is None:
                            waiting.error = PlacingInterrupted("placing was interrupted (the server may be stopping); try again")
                        waiting.done.set()
        await request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.positions is not None
        return request.positions

    async def _board_bytes(self, room_name: str) -> int:
        rooms = self._rooms()
        room = await rooms.acquire(room_name)
        try:
            return room.byte_size
        finally:
            rooms.release(room)

    async def _place_batch(self, room_name: str, batch: list[_Request]) -> None:
        rooms = self._rooms()
        started = time.perf_counter()
        parsed = parse_study_room(room_name)
        assert parsed is not None
        room = await rooms.acquire(room_name)
        try:
            async with self._board_locks.hold(room_name):  # other hub nodes wait their turn for this board
                moves = (await self.edits(parsed.study_id, parsed.group_id))[0]
                update, positions, gone = await self._plan(room_name, room.doc, moves, batch)
                if update is not None:
                    await room.write_as_server(update)  # applied here before the next holder reads
        finally:
            rooms.release(room)
        if gone:
            await self._forget(parsed.study_id, parsed.group_id, gone)
        if update is not None:  # suggestions follow, off the path of the label to the screen
            self._hints_stale.add((parsed.study_id, parsed.group_id))
            self._stale_added.set()
        metrics.CANVAS_PASSES.inc()
        metrics.CANVAS_PLACE_SECONDS.observe(time.perf_counter() - started)
        for request in batch:
            request.positions = {c.id: positions[c.id] for c in request.contents if c.id in positions}

    async def _plan(self, room: str, doc: pycrdt.Doc, moves: dict[str, Move], batch: list[_Request]
                    ) -> tuple[Callable[[pycrdt.Doc], None] | None, dict[str, tuple[float, float]], list[str]]:
        """What one pass changes on the board (None: nothing), where every card of the batch is, and which cards go.
        Cards people moved (`moves`) stay where they put them: a refit moves only the others."""
        existing = read_cards(doc, moves)
        wanted: dict[str, CardContent] = {}
        replaced = {r.replace_kind for r in batch if r.replace_kind is not None}
        for request in batch:
            for content in request.contents:
                previous = wanted.get(content.id) or (existing[content.id].content if content.id in existing else None)
                wanted[content.id] = _accumulated(previous, content) if request.accumulate and previous else content
        if any(r.anonymous for r in batch):
            for key, card in existing.items():
                if card.content.authors and key not in wanted:
                    wanted[key] = replace(card.content, authors=())
        gone = [key for key, card in existing.items() if card.content.kind in replaced and key not in wanted]
        kept = {key: card for key, card in existing.items() if key not in gone}
        new = [content for key, content in wanted.items() if key not in kept]
        changed = [content for key, content in wanted.items() if key in kept and kept[key].content != content]

        ids = list(kept) + [c.id for c in new]
        texts = [kept[key].content.text for key in kept] + [c.text for c in new]
        # Only new cards need the model (removing cards or refreshing counts works without it).
        vectors = await self._embedder.embed(texts) if new else np.zeros((len(texts), 0))
        current = np.array([[kept[key].x, kept[key].y] for key in kept] + [[0.0, 0.0]] * len(new)).reshape(-1, 2)
        movable = np.array([not kept[key].pinned for key in kept] + [True] * len(new), dtype=bool)
        since = layout_counter(doc, "placedSinceRefit")
        refit = bool(new) and (len(kept) < MIN_FITTED or refit_due(since + len(new), len(ids)))
        if refit:
            anchors = np.array([not kept[key].pinned for key in kept] + [False] * len(new), dtype=bool)
            layout, plane = await anyio.to_thread.run_sync(relayout, vectors, current, anchors)
            self._planes[room] = plane
            moves = {key: (float(layout[i, 0]), float(layout[i, 1])) for i, key in enumerate(ids[:len(kept)]) if movable[i]}
            fresh = {c.id: (float(layout[len(kept) + j, 0]), float(layout[len(kept) + j, 1])) for j, c in enumerate(new)}
        elif new:
            plane = self._planes.get(room)
            if plane is None or plane.mean.shape[0] != vectors.shape[1]:
                plane = self._planes[room] = await anyio.to_thread.run_sync(fit_plane, vectors[:len(kept)])
            projected = project_onto(plane, vectors[:len(kept)], current[:len(kept)], vectors[len(kept):])
            if not np.isfinite(projected).all():  # a degenerate board (e.g. every card in one spot): lay it out afresh
                log.warning("projection gave non-finite positions; laying the new cards out afresh", extra={"room": room})
                projected = fresh_layout(vectors[len(kept):]) + current[:len(kept)].mean(axis=0)
            moves, fresh = {}, {c.id: (float(p[0]), float(p[1])) for c, p in zip(new, projected, strict=True)}
        else:
            moves, fresh = {}, {}
        positions = {key: moves.get(key, (card.x, card.y)) for key, card in kept.items()} | fresh
        if not (new or gone or changed):
            return None, positions, []
        metrics.CANVAS_CARDS_PLACED.inc(len(new))
        if refit and kept:
            metrics.CANVAS_REFITS.inc()
        now_ms = int(self._clock() * 1000)

        def change(board: pycrdt.Doc) -> None:
            remove_cards(board, gone)
            for content in changed:
                update_card(board, content)
            for content in new:
                put_card(board, content, *fresh[content.id], now_ms)
            if moves:
                move_cards(board, moves)
            count_layout(board, placed=len(new), refitted=refit and len(kept) > 0, now_ms=now_ms)

        return change, positions, gone

    # -- following Reflect -------------------------------------------------------------------------

    def reflect_changed(self, study_id: str, participant_id: str) -> None:
        """A participant's codes changed: their group's code cards may be stale (placed by `run`)."""
        self._stale.add((study_id, participant_id))
        self._stale_added.set()

    def group_stale(self, study_id: str, group_id: str) -> None:
        """The group's code cards may be stale (e.g. the facilitator released or withdrew the codes)."""
        self._stale.add((study_id, f"group:{group_id}"))
        self._stale_added.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Bring stale groups' code cards, then stale hints, up to date, one group at a time, until cancelled."""
        task_status.started()
        while True:
            if self._retry:  # something failed last round: try it again in a while, or sooner if more comes
                with anyio.move_on_after(RETRY_AFTER_S):
                    await self._stale_added.wait()
                self._stale |= self._retry
                self._retry = set()
            else:
                await self._stale_added.wait()
            self._stale_added = anyio.Event()
            await self._sync_stale_codes()
            hints, self._hints_stale = self._hints_stale, set()
            for study_id, group_id in sorted(hints):
                try:
                    await self.sync_hints(study_id, group_id)
                except Exception as exc:  # one group's failure must not stop the others; logged in full
                    log.error("could not update the canvas's suggestions",
                              extra={"study": study_id, "group": group_id, "error": str(exc)}, exc_info=True)

    async def sync_hints(self, study_id: str, group_id: str) -> None:
        """Suggestions for the board as it is now: open hints added and removed; decided ones left alone."""
        # Computed without the group's lock (placing goes on meanwhile): a pass that adds cards marks
        # the hints stale again, so the next round catches up.
        decisions = (await self.edits(study_id, group_id))[1]
        rooms = self._rooms()
        room = await rooms.acquire(StudyRoom.board(study_id, group_id).name)
        try:
            cards = read_cards(room.doc)
            ids = list(cards)
            vectors = await self._embedder.embed([cards[key].content.text for key in ids]) if ids else None
            hints = await anyio.to_thread.run_sync(_hints, ids, vectors) if vectors is not None else []
            await room.write_as_server(lambda board: sync_hints(board, hints, decisions))
        finally:
            rooms.release(room)

    async def _sync_stale_codes(self) -> None:
        """Each stale group's code cards brought up to date; what fails is kept for a retry (and logged)."""
        stale, self._stale = self._stale, set()
        groups: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for study_id, who in sorted(stale):
            try:
                if who.startswith("group:"):
                    group_id: str | None = who.removeprefix("group:")
                else:
                    participant = await self._studies.participant(who)
                    group_id = participant.group_id if participant is not None else None
            except Exception as exc:
                log.error("could not find a participant's group for the canvas", extra={"error": str(exc)}, exc_info=True)
                self._retry.add((study_id, who))
                continue
            if group_id is not None:
                groups.setdefault((study_id, group_id), set()).add((study_id, who))
        for (study_id, group_id), causes in sorted(groups.items()):
            try:
                await self.sync_codes(study_id, group_id)
            except Exception as exc:  # one group's failure must not stop the others; logged in full, retried
                log.error("could not bring the canvas up to date with Reflect",
                          extra={"study": study_id, "group": group_id, "error": str(exc)}, exc_info=True)
                self._retry |= causes

    async def sync_codes(self, study_id: str, group_id: str) -> int:
        """Make the group's code cards exactly its codes (none until the facilitator releases them). Returns how many."""
        study = await self._studies.study(study_id)
        if study is None:
            return 0
        reflect = self._reflect()
        released_at, _ = await reflect.store.settings(study_id)
        contents: list[CardContent] = []
        if released_at is not None:
            participants = await self._studies.participants_of(study_id, group_id)
            names = {p.id: p.display_name for p in participants}
            for use in await reflect.group_code_uses(study, participants):
                authors = () if study.content.discuss.anonymous_canvas else tuple(sorted(names[p] for p in use.participants))
                contents.append(CardContent(use.label, CardKind.CODE, authors, use.uses, len(use.participants)))
        await self.place(study_id, group_id, contents, replace_kind=CardKind.CODE,
                         anonymous=study.content.discuss.anonymous_canvas)
        return len(contents)

    # -- what is behind a card -----------------------------------------------------------------------

    async def excerpts(self, study: Study, group_id: str, card: Card, *, viewer: Participant | None,
                       facilitator: bool) -> tuple[list[Excerpt], int]:
        """The quotes coded with a code card that the viewer may read, and how many others are private."""
        if card.content.kind is not CardKind.CODE:
            return [], 0
        reflect = self._reflect()
        released_at, _ = await reflect.store.settings(study.id)
        if released_at is None and not facilitator:
            return [], 0  # the board is writable by the group: a "code" card proves nothing until the release
        participants = await self._studies.participants_of(study.id, group_id)
        records = await reflect.store.records_of_study(study.id)
        sharing = await reflect.store.sharing([p.id for p in participants])
        baseline = {b.id: b.prompt for b in study.content.baseline_interactions}
        key = card.content.text.casefold()
        shown: list[Excerpt] = []
        private = 0
        conversations = reflect.conversations
        for participant in participants:
            mine = records.get(participant.id)
            if mine is None:
                continue
            labels = {c.id: c.label.casefold() for c in mine.codes}
            for annotation in mine.annotations:
                if annotation.deleted_at is not None:
                    continue
                if key not in {labels.get(mine.resolve(c)) for c in annotation.code_ids}:
                    continue
                if annotation.target_kind is TargetKind.BASELINE:
                    shown.append(Excerpt(annotation.quote, "baseline", baseline.get(annotation.target_id, "")))
                    continue
                excerpt = await self._reply_excerpt(conversations, annotation.target_id, annotation.quote,
                                                    viewer, facilitator, sharing)
                if excerpt is None:
                    private += 1
                else:
                    shown.append(excerpt)
        return shown[:MAX_EXCERPTS], private + max(0, len(shown) - MAX_EXCERPTS)

    async def _reply_excerpt(self, conversations: Any, message_id: str, quote: str, viewer: Participant | None,
                             facilitator: bool, sharing: set[str]) -> Excerpt | None:
        message = await conversations.message(message_id)
        conversation = await conversations.conversation(message.conversation_id) if message is not None else None
        if conversation is None:
            return None
        author = conversation.participant_id
        if viewer is not None and author == viewer.id:
            source = "own"
        elif facilitator or author in sharing:
            source = "shared"
        else:
            return None
        prompt = ""
        for earlier in await conversations.messages_of(conversation.id):
            if earlier.id == message_id:
                break
            if earlier.role.value == "user":
                prompt = earlier.content
        return Excerpt(quote, source, prompt)


def _accumulated(previous: CardContent, again: CardContent) -> CardContent:
    """A label written again: one more use; one more person only if someone new wrote it."""
    authors = tuple(dict.fromkeys(previous.authors + again.authors))
    writers = tuple(dict.fromkeys(previous.writers + again.writers))
    people = len(writers) if writers else previous.people + again.people
    return CardContent(previous.text, previous.kind, authors, previous.uses + again.uses, people, writers)


def _hints(ids: list[str], vectors: np.ndarray) -> list[Hint]:
    """Open suggestions for the board as it will be: groupings and likely near-duplicates."""
    if len(ids) < 2:
        return []
    suggestions = suggest(ids, vectors)
    index = {key: i for i, key in enumerate(ids)}
    hints = []
    for group in suggestions.groups:
        rows = vectors[[index[key] for key in group]]
        similarity = rows @ rows.T
        mean = float((similarity.sum() - len(group)) / (len(group) * (len(group) - 1)))
        hints.append(Hint(hint_id("group", group), "group", tuple(sorted(group)), mean))
    for a, b, similarity_ab in suggestions.near_duplicates:
        pair = sorted((a, b))
        hints.append(Hint(hint_id("duplicate", pair), "duplicate", tuple(pair), similarity_ab))
    return hints
