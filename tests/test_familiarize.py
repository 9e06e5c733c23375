"""A participant goes through Familiarize on a real server: orientation, lesson, practice, check — and Interact opens.

The study is the pilot template, whose training is a home-cooking assistant
(an unrelated context, so that the training does not prime participants).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.api_client import Person
from tests.helpers.familiarize import RIGHT_ANSWERS, STRUCTURE_INSTEAD, PilotStudy
from tests.helpers.server import ServerProcess

@pytest.fixture
def study(tmp_path: Path) -> Iterator[PilotStudy]:
    server = ServerProcess(tmp_path / "node")
    server.start()
    try:
        yield PilotStudy(server)
    finally:
        server.stop()


def test_a_participant_learns_to_code_values_passes_the_check_and_interact_opens(study: PilotStudy) -> None:
    ravi = study.join("Ravi")
    assert study.stages(ravi) == {"familiarize": "open", "interact": "closed", "reflect": "closed", "discuss": "closed"}
    assert ravi.post(study.path("/conversations"), {}).status_code == 409, "no chatting before Familiarize"

    view = ravi.ok("GET", study.path("/familiarize"))
    assert view["training_context"] == "Home Cooking Assistant"
    assert len(view["orientation_pages"]) == 1 and "<h1>History Educational Assistant</h1>" in view["orientation_pages"][0]
    assert len(view["lesson_pages"]) == 4 and "<h2>Values, not structure</h2>" in view["lesson_pages"][2]
    contrast = view["worked_examples"][1]
    assert "assumes a Western kitchen" in contrast["value_codes"] and "summary" in contrast["structural_codes"]
    assert all(item["example_codes"] is None and item["my_codes"] is None for item in view["practice"])
    assert all(set(item) == {"id", "excerpt", "options", "explanation"} for item in view["check"]["items"])
    assert "is_value" not in str(view["check"]), "the check's answers never reach the participant"

    view = ravi.ok("PUT", study.path("/familiarize/orientation"), {"pages_seen": 1})
    assert view["progress"]["orientation_done"]
    view = ravi.ok("PUT", study.path("/familiarize/lesson"))
    assert view["progress"]["lesson_done"]

    view = ravi.ok("PUT", study.path("/familiarize/practice/spice-level"), {"codes": ["polite", "gives people choice"]})
    spice = view["practice"][0]
    assert spice["my_codes"] == ["polite", "gives people choice"]
    assert spice["example_codes"] == ["considerate of others' preferences", "inclusive", "gives people choice"]
    again = ravi.ok("PUT", study.path("/familiarize/practice/spice-level"), {"codes": ["changed my mind"]})
    assert again["practice"][0]["my_codes"] == ["polite", "gives people choice"], "the first answer stays"
    for item in ("burnt-pan", "vegan-baking"):
        view = ravi.ok("PUT", study.path(f"/familiarize/practice/{item}"), {"codes": ["reassuring"]})
    assert view["progress"]["practice_done"] == 3 and not view["progress"]["complete"]

    first = ravi.ok("POST", study.path("/familiarize/check"), {"answers": STRUCTURE_INSTEAD})
    assert not first["passed"] and first["score"] < 0.75
    assert set(first["items_to_revisit"]) == set(RIGHT_ANSWERS) and first["explanations"] == {}
    assert study.stages(ravi)["interact"] == "closed"

    second = ravi.ok("POST", study.path("/familiarize/check"), {"answers": RIGHT_ANSWERS})
    assert second["passed"] and second["score"] == 1.0 and second["attempts"] == 2
    assert "describe form" in second["explanations"]["soup-salt"]
    assert {s["stage"]: s["state"] for s in second["stages"]}["interact"] == "open"
    assert ravi.post(study.path("/familiarize/check"), {"answers": RIGHT_ANSWERS}).status_code == 409

    assert ravi.ok("PUT", study.path(f"/participants/{ravi.me['participant_id']}/progress"), {"stage": "interact"})
    assert ravi.post(study.path("/conversations"), {}).status_code == 201, "Interact is open"

    results = study.facilitator.ok("GET", study.path("/familiarize/results"))
    (row,) = results["participants"]
    assert (row["display_name"], row["attempts"], row["best_score"], row["current"]) == ("Ravi", 2, 1.0, "interact")
    assert row["orientation_done"] and row["lesson_done"] and row["practice_done"] == 3 and row["passed_at"]
    assert {s["stage"]: s["state"] for s in row["stages"]}["interact"] == "open"


def test_retries_are_limited_when_the_facilitator_says_so(study: PilotStudy) -> None:
    study.facilitator.ok("PATCH", study.path(), {"familiarize": {"max_attempts": 2, "pass_mark": 0.9}})
    mei = study.join("Mei")
    for attempt in (1, 2):
        outcome = mei.ok("POST", study.path("/familiarize/check"), {"answers": STRUCTURE_INSTEAD})
        assert outcome["attempts"] == attempt and outcome["attempts_left"] == 2 - attempt
    refused = mei.post(study.path("/familiarize/check"), {"answers": RIGHT_ANSWERS})
    assert refused.status_code == 409 and "all 2 attempts" in refused.json()["detail"]
    study.override(participant_id=mei.me["participant_id"], stage="interact", state="open")
    assert study.stages(mei)["interact"] == "open", "the facilitator can let her through anyway"


def test_facilitator_edits_during_a_study_never_lose_a_participants_progress(study: PilotStudy) -> None:
    ravi = study.join("Ravi")
    ravi.ok("PUT", study.path("/familiarize/practice/burnt-pan"), {"codes": ["reassuring"]})
    ravi.ok("PUT", study.path("/familiarize/lesson"))
    ravi.ok("POST", study.path("/familiarize/check"), {"answers": RIGHT_ANSWERS})

    content = study.facilitator.ok("GET", study.path())["familiarize"]
    practice = [p for p in content["practice"] if p["id"] != "burnt-pan"] + [
        {"id": "new-item", "prompt": "Is microwaving safe?", "response": "Yes, stir halfway.", "example_codes": ["practical"]}
    ]
    study.facilitator.ok("PATCH", study.path(), {
        "orientation": "# Part one\n\nWelcome.\n\n---\n\n# Part two\n\n<script>alert('x')</script> More.",
        "familiarize": {"practice": practice, "lesson": content["lesson"] + "\n\n---\n\n## One more page"},
    })

    view = ravi.ok("GET", study.path("/familiarize"))
    assert len(view["orientation_pages"]) == 2 and "<script>" not in view["orientation_pages"][1]
    assert view["check"]["passed"] and view["check"]["attempts"] == 1, "a passed check stays passed"
    assert [p["id"] for p in view["practice"]][-1] == "new-item" and view["practice"][-1]["my_codes"] is None
    assert view["progress"]["lesson_done"], "the lesson read stays read"
    # the removed item's answer is still on record: restoring it shows it again
    study.facilitator.ok("PATCH", study.path(), {"familiarize": {"practice": content["practice"]}})
    burnt = next(p for p in ravi.ok("GET", study.path("/familiarize"))["practice"] if p["id"] == "burnt-pan")
    assert burnt["my_codes"] == ["reassuring"]


def test_the_facilitator_opens_and_closes_stages_for_a_group_or_a_person(study: PilotStudy) -> None:
    ravi, mei = study.join("Ravi"), study.join("Mei")
    study.override(group_id=study.group, stage="interact", state="open")
    assert study.stages(ravi)["interact"] == study.stages(mei)["interact"] == "open"
    study.override(participant_id=mei.me["participant_id"], stage="interact", state="closed")
    assert (study.stages(ravi)["interact"], study.stages(mei)["interact"]) == ("open", "closed")
    study.override(participant_id=ravi.me["participant_id"], stage="familiarize", state="closed")
    closed = ravi.put(study.path("/familiarize/lesson"))
    assert closed.status_code == 409 and "closed for you" in closed.json()["detail"]
    study.override(group_id=study.group, stage="interact", state="default")
    study.override(participant_id=mei.me["participant_id"], stage="interact", state="default")
    assert study.stages(ravi)["interact"] == study.stages(mei)["interact"] == "closed"
    listed = study.facilitator.ok("GET", study.path("/stage-overrides"))["overrides"]
    assert [(o["scope"], o["stage"], o["state"]) for o in listed] == [("participant", "familiarize", "closed")]


def test_a_participant_says_when_they_are_done_chatting_and_reflect_opens(study: PilotStudy) -> None:
    ravi = study.join("Ravi")
    pid = ravi.me["participant_id"]
    assert ravi.post(study.path(f"/participants/{pid}/stages/interact/complete")).status_code == 409, "not open yet"
    study.override(group_id=study.group, stage="interact", state="open")
    stages = ravi.ok("POST", study.path(f"/participants/{pid}/stages/interact/complete"))
    assert {s["stage"]: s["state"] for s in stages["stages"]}["reflect"] == "open"
    assert ravi.post(study.path(f"/participants/{pid}/stages/familiarize/complete")).status_code == 409
    assert ravi.post(study.path(f"/participants/{pid}/stages/lunch/complete")).status_code == 404


def test_bad_and_unauthorized_familiarize_requests_are_refused_clearly(study: PilotStudy) -> None:
    ravi, mei = study.join("Ravi"), study.join("Mei")
    observer = study.join("Obi", role="observer")
    for body in ({"pages_seen": 0}, {"pages_seen": "1"}, {"pages_seen": 1, "extra": True}, {}):
        assert ravi.put(study.path("/familiarize/orientation"), body).status_code == 422, body
    too_far = ravi.put(study.path("/familiarize/orientation"), {"pages_seen": 5})
    assert too_far.status_code == 422 and "1 pages" in too_far.json()["detail"]
    for body in ({"codes": []}, {"codes": ["x"] * 21}, {"codes": ["x" * 201]}, {"codes": ["   "]}, {"codes": "x"}):
        assert ravi.put(study.path("/familiarize/practice/spice-level"), body).status_code == 422, body
    assert ravi.put(study.path("/familiarize/practice/no-such-item"), {"codes": ["x"]}).status_code == 404
    unknown_item = ravi.post(study.path("/familiarize/check"), {"answers": {"no-such": []}})
    assert unknown_item.status_code == 422 and "no item 'no-such'" in unknown_item.json()["detail"]
    unknown_code = ravi.post(study.path("/familiarize/check"), {"answers": {"meal-prep": ["kindness"]}})
    assert unknown_code.status_code == 422 and "no option 'kindness'" in unknown_code.json()["detail"]
    assert ravi.put(study.path("/familiarize/orientation"), {"pages_seen": 1} | {"x": "y" * 300_000}).status_code == 413

    assert ravi.get(study.path("/familiarize/results")).status_code == 403
    assert ravi.get(study.path(f"/participants/{mei.me['participant_id']}/stages")).status_code == 404
    assert ravi.put(study.path("/stage-overrides"), {"group_id": study.group, "stage": "interact", "state": "open"}).status_code == 403
    assert observer.put(study.path("/familiarize/lesson")).status_code == 403
    assert study.facilitator.put(study.path("/familiarize/lesson")).status_code == 403
    both = study.facilitator.put(study.path("/stage-overrides"), {
        "group_id": study.group, "participant_id": ravi.me["participant_id"], "stage": "interact", "state": "open"})
    assert both.status_code == 422 and "exactly one" in both.json()["detail"]
    assert study.facilitator.put(study.path("/stage-overrides"), {"group_id": study.group, "stage": "lunch", "state": "open"}).status_code == 422
    assert study.facilitator.put(study.path("/stage-overrides"), {"group_id": "0123456789abcdef", "stage": "interact", "state": "open"}).status_code == 404
    same_code = {"id": "a", "excerpt": "x", "options": [{"code": "kind", "is_value": True}, {"code": "Kind", "is_value": False}]}
    assert study.facilitator.patch(study.path(), {"familiarize": {"check": [same_code]}}).status_code == 422
    for bad in ({"pass_mark": 2}, {"max_attempts": -1}, {"check": [{"id": "a", "excerpt": "x", "options": [{"code": "c", "is_value": True}]}]},
                {"practice": [{"id": "same", "prompt": "", "response": ""}, {"id": "same", "prompt": "", "response": ""}]}):
        assert study.facilitator.patch(study.path(), {"familiarize": bad}).status_code == 422, bad

    preview = study.facilitator.ok("GET", study.path("/familiarize"))
    assert preview["progress"]["practice_done"] == 0 and preview["stages"] == []
    assert ravi.ok("GET", study.path())["familiarize"] is None, "participants never get the answers through the study"


def test_attempts_fired_in_parallel_cannot_get_past_the_limit(study: PilotStudy) -> None:
    import anyio
    import httpx

    study.patch({"familiarize": {"max_attempts": 2, "pass_mark": 0.99}})
    mei = study.join("Mei")
    statuses: list[int] = []

    async def attempt(client: httpx.AsyncClient) -> None:
        response = await client.post(study.path("/familiarize/check"), json={"answers": STRUCTURE_INSTEAD})
        statuses.append(response.status_code)

    async def burst() -> None:
        async with httpx.AsyncClient(base_url=study.server.http_url, headers=mei.headers, timeout=30) as client:
            async with anyio.create_task_group() as tg:
                for _ in range(8):
                    tg.start_soon(attempt, client)

    anyio.run(burst)
    assert sorted(statuses) == [200, 200] + [409] * 6, "two attempts scored, the rest refused unscored"
    assert mei.ok("GET", study.path("/familiarize"))["check"]["attempts"] == 2
