"""A participant codes responses on a real server: operations applied once, nothing lost, only their own records.

The facilitator opens Reflect for the group (Interact and Reflect gating is
tested in test_familiarize.py); participants code the pilot's baseline set.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.helpers.api_client import Person
from tests.helpers.interact import ChatStudy, chat_study, chatting
from tests.helpers.live_client import connect_live, live_url
from tests.helpers.server import ServerProcess

_ids = itertools.count(1)


def rid() -> str:
    """A record or operation id, as a browser would choose it."""
    return f"{next(_ids) + 0xABC000:016x}"


class Coder:
    """One participant's Reflect page, reduced to its requests."""

    def __init__(self, study: ChatStudy, person: Person) -> None:
        self.study, self.person = study, person

    def state(self) -> dict[str, Any]:
        return self.person.ok("GET", self.study.path("/reflect"))  # type: ignore[no-any-return]

    def send(self, *ops: dict[str, Any], op_ids: list[str] | None = None) -> dict[str, Any]:
        ids = op_ids or [rid() for _ in ops]
        body = {"ops": [{"op_id": i, "op": op} for i, op in zip(ids, ops, strict=True)]}
        return self.person.ok("POST", self.study.path("/reflect/ops"), body)  # type: ignore[no-any-return]

    def baseline(self, item_id: str) -> dict[str, Any]:
        return next(i for i in self.state()["items"] if i["kind"] == "baseline" and i["id"] == item_id)


def annotate(item: dict[str, Any], phrase: str, *codes: str, annotation_id: str | None = None) -> dict[str, Any]:
    start = item["text"].index(phrase)
    return {"kind": "annotation.create", "id": annotation_id or rid(), "target_kind": item["kind"],
            "target_id": item["id"], "start": start, "end": start + len(phrase), "quote": phrase, "codes": list(codes)}


@pytest.fixture
def study(tmp_path: Path) -> Iterator[ChatStudy]:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        study = chat_study(server, max_tokens=12)
        study.facilitator.ok("PUT", study.path("/stage-overrides"), {"group_id": study.group, "stage": "reflect", "state": "open"})
        yield study
    finally:
        server.stop()


def first_baseline(coder: Coder) -> dict[str, Any]:
    return next(i for i in coder.state()["items"] if i["kind"] == "baseline")


def test_a_participant_codes_spans_and_groups_codes_and_every_operation_counts_once(study: ChatStudy) -> None:
    ravi = Coder(study, study.ravi)
    state = ravi.state()
    assert state["progress"]["baseline"] == len([i for i in state["items"] if i["kind"] == "baseline"]) > 0
    item = first_baseline(ravi)
    phrase = item["text"][:30]
    whole = {**annotate(item, item["text"], "sparks curiosity"), "start": 0, "end": len(item["text"])}
    ops = [annotate(item, phrase, "sparks curiosity", "Eurocentric"), whole]
    op_ids = [rid(), rid()]
    first = ravi.send(*ops, op_ids=op_ids)
    assert [o["status"] for o in first["outcomes"]] == ["applied", "applied"] and first["version"] == 2
    again = ravi.send(*ops, op_ids=op_ids)  # a retry after a dropped connection, or the same queue from a 2nd tab
    assert [o["status"] for o in again["outcomes"]] == ["duplicate", "duplicate"] and again["version"] == 2
    assert again["outcomes"][0]["result"] == first["outcomes"][0]["result"]

    state = ravi.state()
    assert len(state["annotations"]) == 2
    codes = {c["label"]: c for c in state["codes"]}
    assert codes["sparks curiosity"]["uses"] == 2 and codes["Eurocentric"]["uses"] == 1
    assert {e["quote"] for e in codes["sparks curiosity"]["excerpts"]} == {phrase, item["text"]}
    assert state["progress"]["baseline_coded"] == 1 and state["progress"]["codes"] == 2

    cluster = rid()
    made = ravi.send({"kind": "cluster.create", "id": cluster, "name": "Curiosity",
                      "definition": "The answer makes the student want to know more",
                      "code_ids": [codes["sparks curiosity"]["id"], codes["Eurocentric"]["id"]]})
    undo = made["outcomes"][0]["result"]["undo"]
    assert undo == [{"kind": "cluster.delete", "id": cluster}]
    (kept,) = ravi.state()["clusters"]
    assert kept["name"] == "Curiosity" and len(kept["code_ids"]) == 2
    ravi.send(*undo)
    assert ravi.state()["clusters"] == []

    history = study.ravi.ok("GET", study.path("/reflect/history"))["entries"]
    assert [e["kind"] for e in history] == ["annotation.create", "annotation.create", "cluster.create", "cluster.delete"]


def test_a_structural_code_gets_a_gentle_hint_and_a_value_code_does_not(study: ChatStudy) -> None:
    ravi = Coder(study, study.ravi)
    item = first_baseline(ravi)
    outcome = ravi.send(annotate(item, item["text"][:20], "summary at the end", "safety-conscious"))
    assert outcome["outcomes"][0]["status"] == "applied", "a hint never blocks"
    codes = {c["label"]: c for c in ravi.state()["codes"]}
    assert "structure of the answer" in codes["summary at the end"]["hint"]
    assert codes["safety-conscious"]["hint"] is None


def test_spans_must_match_the_text_and_participants_code_only_what_they_may(study: ChatStudy) -> None:
    ravi, mei = Coder(study, study.ravi), Coder(study, study.mei)
    item = first_baseline(ravi)
    wrong_quote = {**annotate(item, item["text"][:10], "x"), "quote": "not the text"}
    past_end = {**annotate(item, item["text"][:10], "x"), "end": len(item["text"]) + 5}
    outcomes = ravi.send(wrong_quote, past_end)["outcomes"]
    assert [o["status"] for o in outcomes] == ["refused", "refused"]
    assert "does not match" in outcomes[0]["error"] and "past the text" in outcomes[1]["error"]

    mine = rid()
    ravi.send(annotate(item, item["text"][:10], "Ravi's code", annotation_id=mine))
    stolen = mei.send({"kind": "annotation.set_codes", "id": mine, "codes": ["Mei was here"]})
    assert stolen["outcomes"][0]["status"] == "refused"
    hijack = mei.send(annotate(item, item["text"][:10], "Mei's code", annotation_id=mine))
    assert hijack["outcomes"][0]["status"] == "refused" and "taken" in hijack["outcomes"][0]["error"]
    assert [c["label"] for c in mei.state()["codes"]] == [], "Mei never sees Ravi's codes"
    assert [c["label"] for c in ravi.state()["codes"]] == ["Ravi's code"]


async def test_a_reply_from_the_participants_own_chat_can_be_coded_and_nobody_elses(study: ChatStudy) -> None:
    conversation = study.start_conversation(study.ravi)
    async with chatting(study.server, study.ravi) as chat:
        _, reply = await chat.send(conversation["id"], "Who was Akbar?")
        done = await chat.finished(reply["id"])
    ravi, mei = Coder(study, study.ravi), Coder(study, study.mei)
    (own,) = [i for i in ravi.state()["items"] if i["kind"] == "message"]
    assert own["id"] == reply["id"] and own["text"] == done.text and own["prompt"] == "Who was Akbar?"
    assert ravi.send(annotate(own, own["text"][:3], "brief"))["outcomes"][0]["status"] == "applied"
    refused = mei.send(annotate(own, own["text"][:3], "peeking"))["outcomes"][0]
    assert refused["status"] == "refused" and "that you may code" in refused["error"]

    # With the facilitator's setting and Ravi's agreement, Mei codes a sample of his replies too.
    study.facilitator.ok("PUT", study.path("/reflect/settings"), {"share_sample": True})
    assert not [i for i in mei.state()["items"] if i["source"] == "shared"], "not without Ravi's agreement"
    study.ravi.ok("PUT", study.path("/reflect/sharing"), {"agree": True})
    (shared,) = [i for i in mei.state()["items"] if i["source"] == "shared"]
    assert shared["id"] == reply["id"]
    assert mei.send(annotate(shared, shared["text"][:3], "confident"))["outcomes"][0]["status"] == "applied"


async def test_a_second_tab_is_told_of_every_change(study: ChatStudy) -> None:
    ravi = Coder(study, study.ravi)
    item = first_baseline(ravi)
    async with connect_live(live_url(study.server), study.ravi.cookie_headers) as other_tab:
        outcome = ravi.send(annotate(item, item["text"][:12], "hopeful"))
        changed, _ = await other_tab.recv_until("reflect.changed")
    assert changed == {"type": "reflect.changed", "study": study.study, "version": outcome["version"]}


def test_concurrent_operations_from_two_tabs_are_all_applied(study: ChatStudy) -> None:
    ravi = Coder(study, study.ravi)
    item = first_baseline(ravi)
    phrases = [item["text"][i:i + 5] for i in range(0, 40, 5)]

    async def tab(chunk: list[str]) -> None:
        async with httpx.AsyncClient(base_url=study.server.http_url, headers=study.ravi.headers) as client:
            for phrase in chunk:
                ops = [{"op_id": rid(), "op": annotate(item, phrase, f"code {phrase}")}]
                response = await client.post(study.path("/reflect/ops"), json={"ops": ops})
                assert response.status_code == 200 and response.json()["outcomes"][0]["status"] == "applied"

    async def both() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(tab, phrases[0::2])
            tg.start_soon(tab, phrases[1::2])

    anyio.run(both)
    state = ravi.state()
    assert len(state["annotations"]) == len(phrases) and state["version"] == len(phrases)


def test_the_export_round_trips_in_json_and_csv(study: ChatStudy) -> None:
    ravi = Coder(study, study.ravi)
    item = first_baseline(ravi)
    tricky = '=HYPERLINK("http://x"); "commas", and quotes'
    ravi.send(annotate(item, item["text"][:15], tricky, "hopeful"), annotate(item, item["text"][5:25], "hopeful"))
    codes = {c["label"]: c["id"] for c in ravi.state()["codes"]}
    ravi.send({"kind": "cluster.create", "id": rid(), "name": "Tone", "definition": "How it sounds",
               "code_ids": [codes[tricky], codes["hopeful"]]})
    exported = study.ravi.ok("GET", study.path("/reflect/export.json"))
    assert exported["format"] == "calma.reflect.export/1" and exported["participant"]["display_name"] == "Ravi"
    assert sorted(a["codes"] for a in exported["annotations"]) == sorted([[tricky, "hopeful"], ["hopeful"]])
    assert exported["clusters"][0]["codes"] == [tricky, "hopeful"]

    text = study.ravi.get(study.path("/reflect/export.csv")).text
    rows = list(csv.DictReader(io.StringIO(text)))
    pairs = sorted((r["annotation_id"], r["code"]) for r in rows if r["row"] == "annotation")
    assert pairs == sorted((a["id"], "'" + c if c.startswith("=") else c) for a in exported["annotations"] for c in a["codes"])
    assert {r["code"] for r in rows if r["row"] == "cluster"} == {"'" + tricky, "hopeful"}, "a formula is defused"
    assert all(not r["code"].startswith("=") for r in rows)

    by_facilitator = study.facilitator.ok("GET", study.path(f"/reflect/export.json?participant_id={study.ravi.me['participant_id']}"))
    assert by_facilitator["annotations"] == exported["annotations"]
    assert study.mei.get(study.path(f"/reflect/export.json?participant_id={study.ravi.me['participant_id']}")).status_code == 404


def test_the_group_sees_its_codes_only_once_the_facilitator_releases_them(study: ChatStudy) -> None:
    ravi, mei = Coder(study, study.ravi), Coder(study, study.mei)
    item = first_baseline(ravi)
    ravi.send(annotate(item, item["text"][:10], "Curious"), annotate(item, item["text"][10:20], "balanced"))
    mei.send(annotate(item, item["text"][:10], "curious"))
    assert study.mei.ok("GET", study.path("/reflect"))["codes_released"] is False
    held = study.mei.get(study.path("/reflect/group-codes"))
    assert held.status_code == 409 and "not released" in held.json()["detail"]
    preview = study.facilitator.ok("GET", study.path(f"/reflect/group-codes?group_id={study.group}"))
    assert preview["released_at"] is None and preview["codes"][0]["uses"] == 2
    study.facilitator.ok("PUT", study.path("/reflect/settings"), {"codes_released": True})
    assert study.mei.ok("GET", study.path("/reflect"))["codes_released"] is True
    released = study.mei.ok("GET", study.path("/reflect/group-codes"))
    assert [(c["label"], c["uses"], c["participants"]) for c in released["codes"]] == [("Curious", 2, 2), ("balanced", 1, 1)]
    assert abs(sum(c["frequency"] for c in released["codes"]) - 1.0) < 1e-9

    progress = study.facilitator.ok("GET", study.path("/reflect/progress"))["participants"]
    assert {p["display_name"]: p["progress"]["codes"] for p in progress} == {"Ravi": 2, "Mei": 1}


def test_bad_and_unauthorized_reflect_requests_change_nothing(study: ChatStudy) -> None:
    ravi = Coder(study, study.ravi)
    item = first_baseline(ravi)
    good = annotate(item, item["text"][:10], "fine")
    bad_batch = {"ops": [{"op_id": rid(), "op": good}, {"op_id": rid(), "op": {**good, "id": "zz", "kind": "annotation.create"}}]}
    refused = study.ravi.post(study.path("/reflect/ops"), bad_batch)
    assert refused.status_code == 422 and "nothing was applied" in refused.json()["detail"]
    assert refused.json()["errors"][0]["field"].startswith("ops.1.op")
    assert ravi.state()["annotations"] == []
    for body in ({"ops": []}, {"ops": [{"op_id": "x", "op": good}]}, {"ops": [{"op_id": rid(), "op": {"kind": "teleport"}}]},
                 {"ops": [{"op_id": rid(), "op": good}] * 101}, {"nope": 1}):
        assert study.ravi.post(study.path("/reflect/ops"), body).status_code == 422, body
    assert study.ravi.post(study.path("/reflect/ops"), {"ops": [{"op_id": rid(), "op": {**good, "quote": "q" * 300_000}}]}).status_code == 413
    invite = study.facilitator.ok("POST", study.path("/invites"), {"group_id": study.group, "role": "observer"}, status=201)
    observer = Person(study.server, "observer").join(invite["token"], "Obi")
    one = {"ops": [{"op_id": rid(), "op": good}]}
    assert observer.post(study.path("/reflect/ops"), one).status_code == 403
    assert study.facilitator.post(study.path("/reflect/ops"), one).status_code == 403
    assert httpx.post(study.server.http_url + study.path("/reflect/ops"), json=one).status_code == 401
    assert study.ravi.put(study.path("/reflect/settings"), {"codes_released": True}).status_code == 403
    assert study.facilitator.put(study.path("/reflect/settings"), {"codes_released": "yes"}).status_code == 422
    study.facilitator.ok("PUT", study.path("/stage-overrides"), {"participant_id": study.ravi.me["participant_id"], "stage": "reflect", "state": "closed"})
    closed = study.ravi.post(study.path("/reflect/ops"), one)
    assert closed.status_code == 409 and "Reflect is not open" in closed.json()["detail"]
