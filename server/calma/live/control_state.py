"""The control document of a live session, and the state machine that turns commands into changes of it.

Pure functions: `read_state` reads a document into the whole state (the
schema's defaults for absent or unreadable entries); `next_state_changes`
decides what a command changes, from the state, the command and the server
time, or raises `Refused` (conflict, limit) before anything is written;
`apply_command` does both on a document. No I/O, no clock, no role checks:
the caller passes the server time and has already checked the sender's role.

The document's one top-level type is the Y.Map `control`; each ControlState
field is one entry holding a plain value (see shared_schema/control.md).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import pycrdt
from pydantic import ValidationError

from calma.live.codes import ErrorCode, Refused
from calma.live.schema import CONTROL_SCHEMA

CONTROL_MAP = CONTROL_SCHEMA.control_map
DEFAULTS: Mapping[str, Any] = CONTROL_SCHEMA.control_state_defaults
_STATE_TYPES = CONTROL_SCHEMA.document["types"]["ControlState"]["fields"]
MAX_DURATION_MS = int(CONTROL_SCHEMA.document["types"]["DurationMs"]["maximum"])
MAX_TIMERS = int(_STATE_TYPES["timers"]["maxItems"])
MAX_REVEALS = int(_STATE_TYPES["reveals"]["maxItems"])
MAX_QUEUE = int(_STATE_TYPES["queue"]["maxItems"])

State = dict[str, Any]
Command = Mapping[str, Any]


def control_room_name(study: str, group: str) -> str:
    """The hub room holding the control document of the live session `study`/`group`."""
    return CONTROL_SCHEMA.control_room.format(study=study, group=group)


# -- reading -------------------------------------------------------------


def read_state(doc: pycrdt.Doc) -> State:
    """The whole control state; entries that are absent or do not fit the schema read as their defaults."""
    control = doc.get(CONTROL_MAP, type=pycrdt.Map)
    state = {key: _integral(control.get(key, copy.deepcopy(default))) for key, default in DEFAULTS.items()}
    while True:
        try:
            CONTROL_SCHEMA.control_state.validate_python(state)
            return state
        except ValidationError as exc:
            for detail in exc.errors(include_input=False):
                key = detail["loc"][0] if detail["loc"] else None
                if key in DEFAULTS:
                    state[str(key)] = copy.deepcopy(DEFAULTS[str(key)])
                else:  # not a field-level problem; cannot happen with DEFAULTS valid (checked at import)
                    raise


def _integral(value: Any) -> Any:
    """Yjs stores every number as a double; the control state's numbers are all integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


# -- timers --------------------------------------------------------------


def timer_status(timer: Mapping[str, Any]) -> str:
    if timer["started_at"] is not None:
        return "running"
    if timer["paused_remaining_ms"] is not None:
        return "paused"
    return "idle"


def remaining_ms(timer: Mapping[str, Any], now_ms: int) -> int:
    """What a timer has left at server time `now_ms` (never negative)."""
    if timer["started_at"] is not None:
        return max(0, int(timer["started_at"]) + int(timer["duration_ms"]) - now_ms)
    if timer["paused_remaining_ms"] is not None:
        return int(timer["paused_remaining_ms"])
    return int(timer["duration_ms"])


def _timer(state: State, command: Command, *, create: bool) -> dict[str, Any] | None:
    """The named timer (a copy); None when it does not exist and `create` allows making it."""
    name = command["timer"]
    existing = state["timers"].get(name)
    if existing is not None:
        return dict(existing)
    if not create or command.get("duration_ms") is None:
        raise Refused(ErrorCode.CONFLICT, f"there is no timer {name!r}; give duration_ms to create it")
    if len(state["timers"]) >= MAX_TIMERS:
        raise Refused(ErrorCode.LIMIT, f"a session has at most {MAX_TIMERS} timers")
    return None


def _with_timer(state: State, name: str, timer: Mapping[str, Any]) -> State:
    return {"timers": {**state["timers"], name: dict(timer)}}


def timer_start(state: State, command: Command, participant: str | None, now_ms: int) -> State:
    name, duration = command["timer"], command.get("duration_ms")
    timer = _timer(state, command, create=True)
    if timer is None:
        return _with_timer(state, name, {"duration_ms": duration, "started_at": now_ms, "paused_remaining_ms": None})
    status = timer_status(timer)
    if status == "running":
        raise Refused(ErrorCode.CONFLICT, f"timer {name!r} is already running")
    if status == "paused":
        if duration is not None:
            raise Refused(
                ErrorCode.CONFLICT,
                f"timer {name!r} is paused: it resumes with its remaining time; reset it to change its length",
            )
        elapsed = timer["duration_ms"] - timer["paused_remaining_ms"]
        timer.update(started_at=now_ms - elapsed, paused_remaining_ms=None)
    else:
        timer.update(duration_ms=duration if duration is not None else timer["duration_ms"], started_at=now_ms)
    return _with_timer(state, name, timer)


def timer_pause(state: State, command: Command, participant: str | None, now_ms: int) -> State:
    name = command["timer"]
    timer = _timer(state, command, create=False)
    assert timer is not None
    if timer_status(timer) != "running":
        raise Refused(ErrorCode.CONFLICT, f"timer {name!r} is not running")
    timer.update(paused_remaining_ms=remaining_ms(timer, now_ms), started_at=None)
    return _with_timer(state, name, timer)


def timer_extend(state: State, command: Command, participant: str | None, now_ms: int) -> State:
    name, by = command["timer"], int(command["by_ms"])
    timer = _timer(state, command, create=False)
    assert timer is not None
    duration = int(timer["duration_ms"]) + by
    if duration > MAX_DURATION_MS:
        raise Refused(ErrorCode.CONFLICT, f"timer {name!r} would run longer than {MAX_DURATION_MS} ms")
    status = timer_status(timer)
    if status == "running":
        # An expired timer extended by `by` ends `by` from now, not `by` after it already ended.
        ends_at = max(int(timer["started_at"]) + int(timer["duration_ms"]), now_ms) + by
        timer.update(duration_ms=duration, started_at=ends_at - duration)
    elif status == "paused":
        timer.update(duration_ms=duration, paused_remaining_ms=int(timer["paused_remaining_ms"]) + by)
    else:
        timer.update(duration_ms=duration)
    return _with_timer(state, name, timer)


def timer_reset(state: State, command: Command, participant: str | None, now_ms: int) -> State:
    name, duration = command["timer"], command.get("duration_ms")
    timer = _timer(state, command, create=True)
    length = duration if duration is not None else timer["duration_ms"]  # type: ignore[index]
    return _with_timer(state, name, {"duration_ms": length, "started_at": None, "paused_remaining_ms": None})


# -- segment, reveals, speaker, queue -------------------------------------


def segment_set(state: State, command: Command, participant: str | None, now_ms: int) -> State:
    if command["segment"] == state["segment"]:
        return {}
    return {"segment": command["segment"], "segment_since": now_ms}


def reveal(state: State, command: Command, participant: str | None, now_ms: int) -> State:
    what = command["what"]
    if what in state["reveals"]:
        return {}
    if len(state["reveals"]) >= MAX_REVEALS:
        raise Refused(ErrorCode.LIMIT, f"a session has at most {MAX_REVEALS} reveals")
    return {"reveals": {**state["reveals"], what: now_ms}}


def speaker_set(state: State, command: Command, participant: str | None, now_ms: int) -> State:
    speaker = command["participant"]
    if speaker == state["speaker"]:
        return {}
    changes: State = {"speaker": speaker, "speaker_since": now_ms if speaker is not None else None}
    if speaker in state["queue"]:
        changes["queue"] = [waiting for waiting in state["queue"] if waiting != speaker]
    return changes


def hand_raise(state: State, command: Command, participant: str | None, now_ms: int) -> State:
    if participant is None:
        raise Refused(ErrorCode.FORBIDDEN, "only a participant can raise a hand")
    if participant in state["queue"]:
        return {}
    if len(state["queue"]) >= MAX_QUEUE:
        raise Refused(ErrorCode.LIMIT, f"the queue holds at most {MAX_QUEUE} participants")
    return {"queue": [*state["queue"], participant]}


def hand_lower(state: State, command: Command, participant: str | None, now_ms: int) -> State:
    if participant is None:
        raise Refused(ErrorCode.FORBIDDEN, "only a participant can lower a hand")
    if participant not in state["queue"]:
        return {}
    return {"queue": [waiting for waiting in state["queue"] if waiting != participant]}


def view_set(state: State, command: Command, participant: str | None, now_ms: int) -> State:
    """Bring everyone's canvas to one view; `at` changes every time, so clients follow even to the same place."""
    return {"view": {"x": command["x"], "y": command["y"], "zoom": command["zoom"], "at": now_ms}}


Transition = Callable[[State, Command, "str | None", int], State]

TRANSITIONS: Mapping[str, Transition] = {
    "segment.set": segment_set,
    "timer.start": timer_start,
    "timer.pause": timer_pause,
    "timer.extend": timer_extend,
    "timer.reset": timer_reset,
    "reveal": reveal,
    "speaker.set": speaker_set,
    "hand.raise": hand_raise,
    "hand.lower": hand_lower,
    "view.set": view_set,
}


def next_state_changes(state: State, command: Command, *, participant: str | None, now_ms: int) -> State:
    """The entries a command changes (empty: nothing to do); raise Refused when it does not fit the state."""
    changes = TRANSITIONS[command["name"]](state, command, participant, now_ms)
    return {key: value for key, value in changes.items() if state.get(key) != value}


def apply_command(doc: pycrdt.Doc, command: Command, *, participant: str | None, now_ms: int) -> State:
    """Check `command` against the document's state and write what it changes; return the changes."""
    changes = next_state_changes(read_state(doc), command, participant=participant, now_ms=now_ms)
    control = doc.get(CONTROL_MAP, type=pycrdt.Map)
    with doc.transaction():  # one command, one update (joins the caller's transaction if there is one)
        for key, value in changes.items():
            control[key] = value
    return changes


if set(TRANSITIONS) != set(CONTROL_SCHEMA.command_roles):
    raise RuntimeError(
        f"control.json's commands {sorted(CONTROL_SCHEMA.command_roles)} and the state machine's "
        f"{sorted(TRANSITIONS)} differ"
    )
