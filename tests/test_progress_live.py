"""A study's progress, pushed live on /live to its facilitator (study.watch), and the API the browser pages use
before anyone is signed in: GET /api/session and GET /api/join?token= (what an invite link is for)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import msgpack
import pytest
from websockets.asyncio.client import connect

from calma.live.watch import StudyWatchers
from tests.helpers.admin import admin_token, create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.live_client import Frame, LiveClient, check_server_frame, live_url
from tests.helpers.server import ServerProcess

LEAD = ("lead@example.org", "Lead", "lead's long password")
OTHER = ("other@example.org", "Other", "other's long password")


@dataclass
class Study:
    server: ServerProcess
    lead: Person
    other: Person
    study: str
    group_a: str
    group_b: str

    def invite(self, group: str, role: str = "participant") -> dict[str, str]:
        body = {"group_id": group, "role": role}
        invite: dict[str, str] = self.lead.ok("POST", f"/api/studies/{self.study}/invites", body, status=201)
        return invite

    def progress_path(self, participant: str) -> str:
        return f"/api/studies/{self.study}/participants/{participant}/progress"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Study]:
    server = ServerProcess(tmp_path_factory.mktemp("progress-live") / "data")
    server.start()
    try:
        for email, name, password in (LEAD, OTHER):
            create_facilitator(server.data_dir, email, name, password)
        lead = Person(server, "lead").sign_in(LEAD[0], LEAD[2])
        other = Person(server, "other").sign_in(OTHER[0], OTHER[2])
        study = lead.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
        group_a = lead.ok("POST", f"/api/studies/{study}/groups", {"name": "A"}, status=201)["id"]
        group_b = lead.ok("POST", f"/api/studies/{study}/groups", {"name": "B"}, status=201)["id"]
        yield Study(server, lead, other, study, group_a, group_b)
    finally:
        server.stop()


@asynccontextmanager
async def live_as(server: ServerProcess, person: Person | None = None, *, token: str | None = None,
                  **query: str) -> AsyncIterator[LiveClient]:  # fmt: skip
    """A /live connection with `person`'s session cookie or `?token=` (and whatever else `query` adds to the URL)."""
    url = live_url(server, **({"token": token} if token is not None else query))
    headers = person.cookie_headers if person is not None else {}
    async with connect(url, additional_headers=headers, max_size=None) as websocket:
        with anyio.fail_after(10):
            data = await websocket.recv()
        assert isinstance(data, bytes)
        hello = check_server_frame(msgpack.unpackb(data, raw=False))
        assert hello["type"] == "hello", hello
        yield LiveClient(websocket, hello)


async def watch(client: LiveClient, study: str) -> Frame:
    """Watch a study; the progress.state that came before the ack."""
    reply, before = await client.request({"type": "study.watch", "study": study})
    assert reply["type"] == "ack", reply
    assert [frame["type"] for frame in before] == ["progress.state"], before
    return before[0]


async def frames_before_pong(client: LiveClient) -> list[Frame]:
    """Every frame queued for the client before now (a ping's pong comes after all of them)."""
    reply, before = await client.request({"type": "ping", "client_time": 0})
    assert reply["type"] == "pong", reply
    return before


async def test_the_facilitator_sees_a_participant_join_and_move_live(world: Study) -> None:
    async with live_as(world.server, world.lead) as lead:
        state = await watch(lead, world.study)
        assert state["study"] == world.study
        assert state["stage_order"] == ["familiarize", "interact", "reflect", "discuss"]
        known = {entry["participant"] for entry in state["participants"]}

        ravi = Person(world.server, "ravi").join(world.invite(world.group_a)["token"], "Ravi")
        ravi_id = ravi.me["participant_id"]
        assert ravi_id not in known
        update, _ = await lead.recv_until("progress.update")
        assert update["study"] == world.study
        progress = update["progress"]
        assert progress["participant"] == ravi_id
        assert (progress["display_name"], progress["group"], progress["stage"]) == ("Ravi", world.group_a, "familiarize")
        joined_at = progress["updated_at"]

        world.lead.ok("PUT", f"/api/studies/{world.study}/stage-overrides",
                      {"participant_id": ravi_id, "stage": "interact", "state": "open"})
        ravi.ok("PUT", world.progress_path(ravi_id), {"stage": "interact"})
        update, _ = await lead.recv_until("progress.update")
        assert (update["progress"]["participant"], update["progress"]["stage"]) == (ravi_id, "interact")
        assert update["progress"]["updated_at"] >= joined_at

        world.lead.ok("PUT", world.progress_path(ravi_id), {"stage": "discuss"})
        update, _ = await lead.recv_until("progress.update")
        assert update["progress"]["stage"] == "discuss"

        assert ravi.put(world.progress_path(ravi_id), {"stage": "familiarize"}).status_code == 200  # back is fine
        update, _ = await lead.recv_until("progress.update")
        assert update["progress"]["stage"] == "familiarize"
        # A refused move (a participant skipping to a stage that is not open) is not news.
        assert ravi.put(world.progress_path(ravi_id), {"stage": "reflect"}).status_code == 409
        assert await frames_before_pong(lead) == []

    # A new watch starts from the store: Ravi is in the snapshot, where he is now.
    async with live_as(world.server, world.lead) as lead_again:
        state = await watch(lead_again, world.study)
        mine = [entry for entry in state["participants"] if entry["participant"] == ravi_id]
        assert [(entry["display_name"], entry["stage"]) for entry in mine] == [("Ravi", "familiarize")]


async def test_an_observer_joining_is_no_progress_and_unwatching_stops_updates(world: Study) -> None:
    async with live_as(world.server, world.lead) as lead:
        await watch(lead, world.study)
        Person(world.server, "obi").join(world.invite(world.group_a, "observer")["token"], "Obi")
        assert await frames_before_pong(lead) == []

        reply, _ = await lead.request({"type": "study.unwatch", "study": world.study})
        assert reply["type"] == "ack"
        Person(world.server, "mei").join(world.invite(world.group_b)["token"], "Mei")
        assert await frames_before_pong(lead) == []
        reply, _ = await lead.request({"type": "study.unwatch", "study": world.study})  # not watching: still acked
        assert reply["type"] == "ack"


async def test_two_watchers_both_get_each_update(world: Study) -> None:
    token = admin_token(world.server.data_dir, study=world.study, role="facilitator")
    async with live_as(world.server, world.lead) as first, live_as(world.server, token=token) as second:
        await watch(first, world.study)
        await watch(second, world.study)
        ana = Person(world.server, "ana").join(world.invite(world.group_b)["token"], "Ana")
        for client in (first, second):
            update, _ = await client.recv_until("progress.update")
            assert update["progress"]["participant"] == ana.me["participant_id"]


@pytest.mark.parametrize("who", ["participant", "observer", "other facilitator", "claim in the query", "unknown study"])
async def test_only_the_studys_facilitator_may_watch_it(world: Study, who: str) -> None:
    study = world.study
    if who == "participant":
        person: Person | None = Person(world.server, "pia").join(world.invite(world.group_a)["token"], "Pia")
        query: dict[str, str] = {}
    elif who == "observer":
        person = Person(world.server, "oli").join(world.invite(world.group_a, "observer")["token"], "Oli")
        query = {}
    elif who == "other facilitator":
        person, query = world.other, {}
    elif who == "claim in the query":  # the query string names no one: she is still the other facilitator
        person, query = world.other, {"role": "facilitator", "study": study}
    else:
        person, query, study = world.lead, {}, "0123456789abcdef"
    async with live_as(world.server, person, **query) as client:
        reply, before = await client.request({"type": "study.watch", "study": study})
        assert reply["type"] == "error" and reply["code"] == "forbidden", reply
        assert before == []
        # Refused, not subscribed: a participant joining later sends this connection nothing.
        Person(world.server, "late").join(world.invite(world.group_b)["token"], f"Late {who}")
        assert await frames_before_pong(client) == []


# -- the API the browser pages use before anyone is signed in ------------------------------------


def test_session_state_says_signed_out_without_failing(world: Study) -> None:
    anonymous = Person(world.server, "anonymous")
    assert anonymous.ok("GET", "/api/session") == {"signed_in": False, "me": None}
    stale = anonymous.get("/api/session", headers={"Cookie": "calma_session=not-a-session"})
    assert stale.status_code == 200 and stale.json()["signed_in"] is False
    state = world.lead.ok("GET", "/api/session")
    assert state["signed_in"] is True
    assert (state["me"]["role"], state["me"]["email"]) == ("facilitator", LEAD[0])


def test_an_invite_link_says_what_it_is_for_before_joining(world: Study) -> None:
    anonymous = Person(world.server, "anonymous")
    invite = world.invite(world.group_b)
    preview = anonymous.ok("GET", f"/api/join?token={invite['token']}")
    study = world.lead.ok("GET", f"/api/studies/{world.study}")
    assert preview["study_id"] == world.study
    assert preview["study_name"] == study["name"]
    assert preview["context_name"] == study["deployment_context"]["name"]
    assert preview["context_description"] == study["deployment_context"]["description"]
    assert (preview["group_id"], preview["group_name"], preview["role"]) == (world.group_b, "B", "participant")
    assert preview["stage_order"] == ["familiarize", "interact", "reflect", "discuss"]
    # Looking does not join: no participant was created, no cookie set.
    response = anonymous.get(f"/api/join?token={invite['token']}")
    assert "set-cookie" not in response.headers
    names = {p["display_name"] for p in world.lead.ok("GET", f"/api/studies/{world.study}/participants")["participants"]}
    assert "anonymous" not in names


@pytest.mark.parametrize("case", ["revoked", "malformed", "tampered", "missing"])
def test_a_bad_invite_link_is_a_problem_saying_why(world: Study, case: str) -> None:
    anonymous = Person(world.server, "anonymous")
    invite = world.invite(world.group_a)
    token = invite["token"]
    if case == "revoked":
        world.lead.ok("POST", f"/api/studies/{world.study}/invites/{invite['id']}/revoke")
    elif case == "malformed":
        token = "not-a-token"
    elif case == "tampered":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    path = "/api/join" if case == "missing" else f"/api/join?token={token}"
    response = anonymous.get(path)
    expected = {"revoked": (401, "token-revoked"), "malformed": (401, "token-malformed"),
                "tampered": (401, "token-bad-signature"), "missing": (422, "validation-failed")}[case]  # fmt: skip
    assert response.status_code == expected[0], response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"/api/problems/{expected[1]}"
    if case == "revoked":
        assert problem["detail"] == "the token has been revoked; ask for a new link"


def test_a_facilitator_token_is_previewed_without_a_group(world: Study) -> None:
    token = admin_token(world.server.data_dir, study=world.study, role="facilitator")
    preview = Person(world.server, "anonymous").ok("GET", f"/api/join?token={token}")
    assert (preview["role"], preview["group_id"], preview["group_name"]) == ("facilitator", None, None)


# -- the watchers on their own: updates during a snapshot wait for it ----------------------------


class FakeConnection:
    """Stands in for a LiveConnection: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    def send_encoded(self, data: bytes) -> None:
        self.sent.append(msgpack.unpackb(data, raw=False))


def progress_of(participant: str, stage: str, at: int) -> dict[str, object]:
    return {"participant": participant, "display_name": participant.upper(), "group": "g1", "stage": stage,
            "updated_at": at}  # fmt: skip


def test_updates_published_while_a_snapshot_is_read_come_after_it() -> None:
    watchers = StudyWatchers()
    waiting, live, elsewhere = FakeConnection(), FakeConnection(), FakeConnection()
    for connection, study in ((waiting, "s1"), (live, "s1"), (elsewhere, "s2")):
        watchers.begin(study, connection)  # type: ignore[arg-type]
    watchers.ready("s1", live)  # type: ignore[arg-type]
    watchers.ready("s2", elsewhere)  # type: ignore[arg-type]

    watchers.publish("s1", progress_of("p1", "interact", 1))
    assert [frame["progress"]["stage"] for frame in live.sent] == ["interact"]  # type: ignore[index]
    assert waiting.sent == [] and elsewhere.sent == []

    waiting.sent.append({"type": "progress.state"})  # what the channel queues once the snapshot is read
    watchers.ready("s1", waiting)  # type: ignore[arg-type]
    assert [frame["type"] for frame in waiting.sent] == ["progress.state", "progress.update"]
    watchers.publish("s1", progress_of("p1", "reflect", 2))
    assert waiting.sent[-1]["progress"]["stage"] == "reflect"  # type: ignore[index]

    watchers.remove("s1", waiting)  # type: ignore[arg-type]
    watchers.remove("s1", live)  # type: ignore[arg-type]
    watchers.publish("s1", progress_of("p1", "discuss", 3))
    assert len(waiting.sent) == 3 and len(live.sent) == 2
    assert len(watchers) == 1  # only s2's watcher is left


def test_a_malformed_update_is_a_server_bug_caught_before_sending() -> None:
    watchers = StudyWatchers()
    connection = FakeConnection()
    watchers.begin("s1", connection)  # type: ignore[arg-type]
    watchers.ready("s1", connection)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        watchers.publish("s1", progress_of("p1", "lunch", 1))
    assert connection.sent == []
