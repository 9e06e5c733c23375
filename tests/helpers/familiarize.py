"""Familiarize in tests: a facilitator's pilot study with one group, set up over REST, and the pilot check's answers.

The pilot template's training is home cooking
(server/calma/studies/templates/training_cooking.json); these are its check's
right answers, and structural labels a participant without training might pick.
"""

from __future__ import annotations

from typing import Any

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.interact import FACILITATOR
from tests.helpers.server import ServerProcess

RIGHT_ANSWERS = {
    "soup-salt": ["cautious", "builds the cook's own judgement"],
    "kids-cooking": ["safety-conscious", "values children's participation"],
    "fancy-dinner": ["assumes wealth", "assumes a Western cuisine", "values impressing others"],
    "meal-prep": ["efficiency", "encouraging to beginners"],
}
STRUCTURE_INSTEAD = {  # what the pilot saw without training: structural labels
    "soup-salt": ["summary at the end", "two sentences"],
    "kids-cooking": ["list", "introduction"],
    "fancy-dinner": ["conclusion"],
    "meal-prep": ["paragraph", "summary"],
}


class PilotStudy:
    """A facilitator's pilot study with one group, set up over REST."""

    def __init__(self, server: ServerProcess, group_name: str = "Online") -> None:
        create_facilitator(server.data_dir, *FACILITATOR)
        self.server = server
        self.facilitator = Person(server, "facilitator").sign_in(FACILITATOR[0], FACILITATOR[2])
        self.id = self.facilitator.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
        self.group = self.facilitator.ok("POST", self.path("/groups"), {"name": group_name}, status=201)["id"]

    def path(self, suffix: str = "") -> str:
        return f"/api/studies/{self.id}{suffix}"

    def invite(self, role: str = "participant") -> str:
        invite = self.facilitator.ok("POST", self.path("/invites"), {"group_id": self.group, "role": role}, status=201)
        token: str = invite["token"]
        return token

    def join(self, name: str, role: str = "participant") -> Person:
        return Person(self.server, name).join(self.invite(role), name)

    def patch(self, body: dict[str, Any]) -> dict[str, Any]:
        study: dict[str, Any] = self.facilitator.ok("PATCH", self.path(), body)
        return study

    def stages(self, person: Person) -> dict[str, str]:
        pid = person.me["participant_id"]
        return {s["stage"]: s["state"] for s in person.ok("GET", self.path(f"/participants/{pid}/stages"))["stages"]}

    def override(self, **body: Any) -> None:
        self.facilitator.ok("PUT", self.path("/stage-overrides"), body)
