"""A/B tests among participants on a real server: blind trials with the real model, choices per axis, results."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest

from calma.outputs.ab import tally, wilson
from calma.outputs.formats import PreferenceRecord
from calma.store.ab_sql import Trial
from tests.helpers.lead import server_with_lead, sign_in_lead
from tests.helpers.discuss import FinishedSession, run_session
from tests.helpers.server import ServerProcess

_studies = itertools.count(1)
ARMS = {"a": {"model": "gemma-3-270m", "system_prompt": "Answer in one short sentence."},
        "b": {"model": "gemma-3-270m", "system_prompt": "Answer like a storyteller, with a question at the end."}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_with_lead(tmp_path_factory.mktemp("ab") / "node") as node:
        yield node


@pytest.fixture
async def finished(server: ServerProcess) -> FinishedSession:
    lead = sign_in_lead(server, "Lena")
    session = await run_session(server, lead, f"A/B {next(_studies)}")
    lead.ok("PATCH", session.path(), {"interact": {"max_tokens": 8}})
    return session


def test_the_wilson_interval_matches_the_textbook() -> None:
    low, high = wilson(8, 10) or (0, 0)  # p = 0.8, n = 10: (0.490, 0.943)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson(0, 0) is None
    trials = [Trial("t1", "x", "p", "q", "A", "B", "left", {"acc": "left"}, 0, 1),
              Trial("t2", "x", "p", "q", "A", "B", "right", {"acc": "left"}, 0, 1),
              Trial("t3", "x", "p", "q", "A", "B", "left", {"acc": "tie"}, 0, 1)]
    (row,) = tally(trials, ["acc"])
    assert (row["a_wins"], row["b_wins"], row["ties"], row["a_win_rate"]) == (1, 1, 1, 0.5)


async def test_a_participant_judges_two_blind_replies_and_learns_which_was_which_only_after_choosing(
    finished: FinishedSession,
) -> None:
    s = finished
    axes = list(s.attributes.values())
    test = s.lead.ok("POST", s.path("/ab-tests"), {"group_id": s.group, "name": "Short vs story", "a": ARMS["a"],
                                                   "b": ARMS["b"]}, status=201)
    assert [a["id"] for a in test["axes"]] == axes and test["arms"] == ARMS
    seen = s.people["Ravi"].ok("GET", s.path("/ab-tests"))["tests"]
    assert [t["id"] for t in seen] == [test["id"]] and seen[0]["arms"] is None, "participants never see the arms"

    response = s.people["Ravi"].request("POST", s.path(f"/ab-tests/{test['id']}/trials"), json={"prompt": "Who was Akbar?"})
    assert response.status_code == 201
    trial = response.json()
    assert set(trial) == {"id", "prompt", "left", "right", "axes", "choices", "revealed"} and trial["revealed"] is None
    for secret in ("gemma", "storyteller", "one short sentence", '"a"', '"b"'):
        assert secret not in response.text, "nothing in the trial says which arm wrote which side"
    assert trial["left"] and trial["right"]

    choices = {axes[0]: "left", axes[1]: "right", axes[2]: "tie"}
    missing = s.people["Ravi"].request("POST", s.path(f"/ab-tests/{test['id']}/trials/{trial['id']}/choice"),
                                       json={"choices": {axes[0]: "left"}})
    assert missing.status_code == 422
    assert s.people["Mei"].request("POST", s.path(f"/ab-tests/{test['id']}/trials/{trial['id']}/choice"),
                                   json={"choices": choices}).status_code == 404, "not Mei's trial"
    chosen = s.people["Ravi"].ok("POST", s.path(f"/ab-tests/{test['id']}/trials/{trial['id']}/choice"), {"choices": choices})
    assert set(chosen["revealed"].values()) == {"a", "b"}
    again = s.people["Ravi"].request("POST", s.path(f"/ab-tests/{test['id']}/trials/{trial['id']}/choice"),
                                     json={"choices": choices})
    assert again.status_code == 409

    results = s.lead.ok("GET", s.path(f"/ab-tests/{test['id']}/results"))
    first = results["axes"][0]
    a_won = chosen["revealed"]["left"] == "a"
    assert (first["a_wins"], first["b_wins"]) == ((1, 0) if a_won else (0, 1))
    assert results["axes"][2]["ties"] == 1 and results["caveat"].startswith("Only 0 decided choices")
    lines = [json.loads(x) for x in s.lead.request("GET", s.path(f"/ab-tests/{test['id']}/preferences.jsonl")).text.splitlines()]
    for line in lines:
        PreferenceRecord.model_validate(line)
    assert len(lines) == 2 and {line["axis"] for line in lines} == {"Historical accuracy", "Balanced views"}
    preferred = next(line for line in lines if line["axis"] == "Historical accuracy")
    assert preferred["chosen"] == trial["left"] and preferred["rejected"] == trial["right"]


def test_who_may_do_what_with_ab_tests(finished: FinishedSession) -> None:
    s = finished
    body = {"group_id": s.group, "name": "t", "a": ARMS["a"], "b": ARMS["b"]}
    assert s.people["Ravi"].request("POST", s.path("/ab-tests"), json=body).status_code == 403
    same = s.lead.request("POST", s.path("/ab-tests"), json={**body, "b": ARMS["a"]})
    assert same.status_code == 422 and "the same" in same.json()["detail"]
    unknown = s.lead.request("POST", s.path("/ab-tests"), json={**body, "a": {"model": "gpt-9"}})
    assert unknown.status_code == 422 and "no model 'gpt-9'" in unknown.json()["detail"]
    test = s.lead.ok("POST", s.path("/ab-tests"), body, status=201)
    s.lead.ok("PATCH", s.path(f"/ab-tests/{test['id']}"), {"open": False})
    assert s.people["Ravi"].ok("GET", s.path("/ab-tests"))["tests"] == [], "a closed test is not offered"
    closed = s.people["Ravi"].request("POST", s.path(f"/ab-tests/{test['id']}/trials"), json={"prompt": "Hi"})
    assert closed.status_code == 409
    assert s.people["Ravi"].request("GET", s.path(f"/ab-tests/{test['id']}/results")).status_code == 403
    assert s.people["Ravi"].request("POST", s.path(f"/ab-tests/{test['id']}/trials"), json={"prompt": " "}).status_code == 422
