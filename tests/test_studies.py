"""Studies in the store of record: the pilot template, editing, groups and invites, surviving restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calma.studies.templates import pilot_data
from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.server import REPO, ServerProcess

PILOT_FILE = REPO / "server/calma/studies/templates/pilot.json"


@pytest.fixture
def ana(server: ServerProcess) -> Person:
    create_facilitator(server.data_dir, "ana@example.org", "Ana", "ana's long password")
    return Person(server, "Ana").sign_in("ana@example.org", "ana's long password")


def test_the_pilot_template_carries_the_pilots_context_prompt_and_baseline(ana: Person) -> None:
    pilot = json.loads(PILOT_FILE.read_text())
    study = ana.ok("POST", "/api/studies", {"template": "pilot"}, status=201)

    context = study["deployment_context"]
    assert context["name"] == "History Educational Assistant" == pilot["deployment_context"]["name"]
    assert context["description"] == pilot["deployment_context"]["description"]
    assert context["system_prompt"].startswith("You are an education assistant for high school students")
    assert context["system_prompt"] == pilot["deployment_context"]["system_prompt"]
    assert context["models"] == [], "the pilot's models are rarely configured: the study uses the server's"
    assert "Llama-70B and Mixtral-8x7B" in study["orientation"]
    assert study["training_context"]["name"] == pilot["familiarize_example_context"]["name"]
    assert study["training_context"]["system_prompt"] == pilot["familiarize_example_context"]["system_prompt"]
    assert [(b["id"], b["prompt"], b["response"]) for b in study["baseline_interactions"]] == [
        (b["id"], b["prompt"], b["response"]) for b in pilot["baseline_interactions"]
    ]
    assert all(b["prompt_reconstructed"] for b in study["baseline_interactions"])
    assert study["stage_order"] == ["familiarize", "interact", "reflect", "discuss"]
    assert context["name"] in study["orientation"]
    assert ana.ok("GET", f"/api/studies/{study['id']}") == study


def test_the_packaged_pilot_is_what_the_package_reads() -> None:
    assert pilot_data() == json.loads(PILOT_FILE.read_text())


def test_a_blank_study_and_a_named_one(ana: Person) -> None:
    blank = ana.ok("POST", "/api/studies", {}, status=201)
    assert blank["deployment_context"]["system_prompt"] == "" and blank["baseline_interactions"] == []
    named = ana.ok("POST", "/api/studies", {"template": "pilot", "name": "Pilot, second run"}, status=201)
    assert named["name"] == "Pilot, second run"
    assert named["deployment_context"]["name"] == "History Educational Assistant"
    listed = [(s["id"], s["name"]) for s in ana.ok("GET", "/api/studies")["studies"]]
    assert listed == [(blank["id"], "Untitled study"), (named["id"], "Pilot, second run")]


def test_editing_the_context_and_system_prompt_changes_only_what_is_given(ana: Person) -> None:
    study = ana.ok("POST", "/api/studies", {"template": "pilot"}, status=201)
    prompt = "You are a history tutor for Indian high-school students. Answer in at most 2 paragraphs."
    edited = ana.ok(
        "PATCH",
        f"/api/studies/{study['id']}",
        {"deployment_context": {"system_prompt": prompt, "models": ["llama-3.2-1b"]}, "stage_order": ["interact", "reflect"]},
    )
    assert edited["deployment_context"]["system_prompt"] == prompt
    assert edited["deployment_context"]["models"] == ["llama-3.2-1b"]
    assert edited["deployment_context"]["name"] == study["deployment_context"]["name"]
    assert edited["baseline_interactions"] == study["baseline_interactions"]
    assert edited["stage_order"] == ["interact", "reflect"]
    assert edited["updated_at"] > study["updated_at"] and edited["created_at"] == study["created_at"]

    baseline = [{"id": "one", "prompt": "Who built the Taj Mahal?", "response": "Shah Jahan had it built."}]
    replaced = ana.ok("PATCH", f"/api/studies/{study['id']}", {"baseline_interactions": baseline, "name": None})
    assert [b["id"] for b in replaced["baseline_interactions"]] == ["one"]
    assert replaced["name"] == study["name"]


def test_a_new_participant_starts_at_the_first_stage_of_the_study(ana: Person, server: ServerProcess) -> None:
    study = ana.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
    ana.ok("PATCH", f"/api/studies/{study}", {"stage_order": ["interact", "reflect", "discuss"]})
    group = ana.ok("POST", f"/api/studies/{study}/groups", {"name": "A"}, status=201)["id"]
    link = ana.ok("POST", f"/api/studies/{study}/invites", {"group_id": group}, status=201)
    assert link["link"] == f"/join?token={link['token']}" and link["status"] == "active"
    ravi = Person(server, "Ravi").join(link["token"], "Ravi")
    mine = ravi.ok("GET", f"/api/studies/{study}/participants/{ravi.me['participant_id']}/progress")
    assert mine["stage"] == "interact"
    assert ravi.me["rooms"]["private"].endswith(f".p-{ravi.me['participant_id']}")


def test_groups_are_renamed_and_names_stay_unique_in_a_study(ana: Person) -> None:
    study = ana.ok("POST", "/api/studies", {}, status=201)["id"]
    first = ana.ok("POST", f"/api/studies/{study}/groups", {"name": "MIT students"}, status=201)
    second = ana.ok("POST", f"/api/studies/{study}/groups", {"name": "Professionals"}, status=201)
    assert first["board_room"] == f"study-{study}.group-{first['id']}.board"
    assert first["control_room"] == f"study-{study}.group-{first['id']}.control"
    renamed = ana.ok("PATCH", f"/api/studies/{study}/groups/{first['id']}", {"name": "Cambridge"})
    assert renamed["name"] == "Cambridge"
    assert ana.patch(f"/api/studies/{study}/groups/{second['id']}", {"name": "Cambridge"}).status_code == 409
    other = ana.ok("POST", "/api/studies", {}, status=201)["id"]
    ana.ok("POST", f"/api/studies/{other}/groups", {"name": "Cambridge"}, status=201)  # another study: fine


def test_an_invite_names_a_group_of_its_own_study(ana: Person) -> None:
    study = ana.ok("POST", "/api/studies", {}, status=201)["id"]
    other = ana.ok("POST", "/api/studies", {}, status=201)["id"]
    elsewhere = ana.ok("POST", f"/api/studies/{other}/groups", {"name": "X"}, status=201)["id"]
    refused = ana.post(f"/api/studies/{study}/invites", {"group_id": elsewhere})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "group_id"


def test_studies_people_and_sessions_survive_a_restart(ana: Person, server: ServerProcess, tmp_path: Path) -> None:
    study = ana.ok("POST", "/api/studies", {"template": "pilot"}, status=201)
    group = ana.ok("POST", f"/api/studies/{study['id']}/groups", {"name": "A"}, status=201)["id"]
    token = ana.ok("POST", f"/api/studies/{study['id']}/invites", {"group_id": group}, status=201)["token"]
    ravi = Person(server, "Ravi").join(token, "Ravi")
    server.kill9()
    server.start()
    assert ana.ok("GET", f"/api/studies/{study['id']}") == study
    assert ravi.ok("GET", "/api/me")["name"] == "Ravi"  # the same session cookie
    assert [i["token"] for i in ana.ok("GET", f"/api/studies/{study['id']}/invites")["invites"]] == [token]
