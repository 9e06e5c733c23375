"""A small world of studies and people on a real server, for access tests.

Ana owns the pilot study S with groups A and B; Bo owns study T. Ravi joined
group A and Mei group B through invite links; Obi observes group A (an
observer invite). Everyone holds a session cookie, as a browser would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.helpers.admin import create_facilitator
from tests.helpers.api_client import Person
from tests.helpers.server import ServerProcess

ANA = ("ana@example.org", "Ana", "ana's long password")
BO = ("bo@example.org", "Bo", "bo's long password")


@dataclass
class World:
    server: ServerProcess
    anonymous: Person
    owner: Person
    other_facilitator: Person
    participant_a: Person
    participant_b: Person
    observer: Person
    ids: dict[str, str] = field(default_factory=dict)  # S, GA, GB, PA, PB, T, TG, INV

    @property
    def people(self) -> dict[str, Person]:
        return {
            "anonymous": self.anonymous,
            "owner": self.owner,
            "other facilitator": self.other_facilitator,
            "participant A": self.participant_a,
            "participant B": self.participant_b,
            "observer A": self.observer,
        }

    def path(self, template: str) -> str:
        return template.format(**self.ids)


def build_world(server: ServerProcess) -> World:
    for email, name, password in (ANA, BO):
        create_facilitator(server.data_dir, email, name, password)
    owner = Person(server, "owner").sign_in(ANA[0], ANA[2])
    other = Person(server, "other facilitator").sign_in(BO[0], BO[2])

    study = owner.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
    group_a = owner.ok("POST", f"/api/studies/{study}/groups", {"name": "MIT students"}, status=201)["id"]
    group_b = owner.ok("POST", f"/api/studies/{study}/groups", {"name": "Professionals from India"}, status=201)["id"]
    other_study = other.ok("POST", "/api/studies", {"template": "blank", "name": "Bo's study"}, status=201)["id"]
    other_group = other.ok("POST", f"/api/studies/{other_study}/groups", {"name": "Only group"}, status=201)["id"]

    def invite(group: str, role: str = "participant") -> dict[str, str]:
        body = {"group_id": group, "role": role}
        created: dict[str, str] = owner.ok("POST", f"/api/studies/{study}/invites", body, status=201)
        return created

    participant_a = Person(server, "participant A").join(invite(group_a)["token"], "Ravi")
    participant_b = Person(server, "participant B").join(invite(group_b)["token"], "Mei")
    observer = Person(server, "observer A").join(invite(group_a, "observer")["token"], "Obi")
    spare = invite(group_a)["id"]
    return World(
        server=server,
        anonymous=Person(server, "anonymous"),
        owner=owner,
        other_facilitator=other,
        participant_a=participant_a,
        participant_b=participant_b,
        observer=observer,
        ids={
            "S": study,
            "GA": group_a,
            "GB": group_b,
            "PA": participant_a.me["participant_id"],
            "PB": participant_b.me["participant_id"],
            "T": other_study,
            "TG": other_group,
            "INV": spare,
        },
    )
