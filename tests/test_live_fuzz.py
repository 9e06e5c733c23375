"""Hypothesis throws random bytes, random MessagePack and mutated frames at a real /live.

Every bad frame gets an error frame (echoing its request id when it had a
valid one), the connection stays up (it answers a ping), the server never logs
an error, and a bystander connection keeps getting its pongs throughout.

Hypothesis runs in a worker thread; each example runs on the test's event
loop (`anyio.from_thread.run`), where the bystander pings all along.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import anyio
import anyio.from_thread
import httpx
import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calma.live.schema import CONTROL_SCHEMA
from tests.helpers.live_client import connect_live, live_url
from tests.helpers.live_study import make_live_study
from tests.helpers.server import ServerProcess

def valid_frames(study: str, group: str) -> list[dict[str, Any]]:
    """Valid frames of the facilitator of `study`, for one session of it."""
    session = {"study": study, "group": group}
    return [
        {"type": "ping", "id": "fz", "client_time": 1.0},
        {"type": "session.subscribe", "id": "fz", **session},
        {"type": "session.unsubscribe", "id": "fz", **session},
        {"type": "control.command", "id": "fz", **session, "command": {"name": "segment.set", "segment": "top3"}},
        {
            "type": "control.command",
            "id": "fz",
            **session,
            "command": {"name": "timer.start", "timer": "t", "duration_ms": 9},
        },
        {"type": "control.command", "id": "fz", **session, "command": {"name": "timer.extend", "timer": "t", "by_ms": 5}},
        {"type": "control.command", "id": "fz", **session, "command": {"name": "reveal", "what": "top3"}},
        {"type": "control.command", "id": "fz", **session, "command": {"name": "speaker.set", "participant": None}},
    ]


LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
ANY_VALUE = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)  # fmt: skip
HUGE_VALUE = (
    st.text(min_size=65, max_size=8000)
    | st.binary(min_size=1000, max_size=20000)
    | st.lists(st.integers(min_value=0, max_value=100), min_size=65, max_size=5000)
    | st.integers(min_value=2**53, max_value=2**64 - 1)
)


@st.composite
def mutated_frames(draw: st.DrawFn, valid: list[dict[str, Any]]) -> bytes:
    """A valid frame with one field replaced (by anything, or something huge), removed, or one field added."""
    frame = copy.deepcopy(draw(st.sampled_from(valid)))
    target = frame["command"] if "command" in frame and draw(st.booleans()) else frame
    operation = draw(st.sampled_from(["replace", "remove", "add"]))
    if operation == "replace":
        target[draw(st.sampled_from(sorted(target)))] = draw(ANY_VALUE | HUGE_VALUE)
    elif operation == "remove":
        del target[draw(st.sampled_from(sorted(target)))]
    else:
        target[draw(st.text(min_size=1, max_size=10))] = draw(ANY_VALUE)
    return bytes(msgpack.packb(frame))


def frames(valid: list[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=300),
        ANY_VALUE.map(lambda value: bytes(msgpack.packb(value))),
        mutated_frames(valid),
    )


def decoded(frame: bytes) -> Any:
    """What the frame decodes to (as the server decodes it), or None when it does not."""
    try:
        return msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except ValueError:
        return None


def acceptable_per_schema(value: Any) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return False
    if value["type"] not in CONTROL_SCHEMA.client_messages:
        return False
    try:
        CONTROL_SCHEMA.client_messages[value["type"]].model_validate(value)
    except ValueError:
        return False
    return True


def server_errors(server: ServerProcess) -> list[str]:
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    return [line["msg"] for line in lines if line.get("level") in ("error", "critical")]


async def test_fuzzed_frames_get_error_frames_and_hurt_nobody(server: ServerProcess) -> None:
    study = await anyio.to_thread.run_sync(make_live_study, server)
    url = live_url(server, token=study.tokens["lead"])
    valid = valid_frames(study.study, study.group)
    examples = 0
    pongs = 0

    async def one_example(frame: bytes) -> None:
        nonlocal examples
        examples += 1
        value = decoded(frame)
        async with connect_live(url) as offender:
            await offender.send_raw(frame)
            await offender.send({"type": "ping", "id": "after", "client_time": 0})
            _, replies = await offender.recv_until("pong", request_id="after")  # the connection is still up
        if not acceptable_per_schema(value):
            assert [reply["type"] for reply in replies] == ["error"], replies
            error = replies[0]
            assert error["code"] in ("malformed", "unknown_type", "invalid"), error
            sent_id = value.get("id") if isinstance(value, dict) else None
            if isinstance(sent_id, str) and 1 <= len(sent_id) <= 64:
                assert error.get("id") == sent_id, (error, sent_id)
            else:
                assert "id" not in error, error
        else:  # mutated into another valid frame: carried out, or refused for what it asks
            answer = replies[-1]
            assert answer["type"] in ("ack", "pong") or answer.get("code") in ("forbidden", "conflict", "limit"), (
                replies
            )

    @settings(
        max_examples=300, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip
    @given(frame=frames(valid))
    def fuzz(frame: bytes) -> None:
        anyio.from_thread.run(one_example, frame)

    async with connect_live(live_url(server, token=study.tokens["watcher"])) as bystander:
        done = anyio.Event()

        async def keep_pinging() -> None:
            nonlocal pongs
            interval = 2 / bystander.hello["limits"]["messages_per_second"]  # half the allowed rate: pacing
            while not done.is_set():
                await bystander.ping()
                pongs += 1
                with anyio.move_on_after(interval):
                    await done.wait()

        async with anyio.create_task_group() as tg:
            tg.start_soon(keep_pinging)
            try:
                await anyio.to_thread.run_sync(fuzz)
            finally:
                done.set()

    assert examples >= 300
    assert pongs >= 2, "the bystander kept getting pongs while the fuzzing ran"
    assert server.process is not None and server.process.poll() is None, "the server is still running"
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{server.http_url}/healthz")).status_code == 200
    assert server_errors(server) == []
