"""A whole Discuss session run over REST and /live, for tests of what comes after it (the outputs).

`run_session` makes a study with one group of three participants, runs the
segments to closed with their top threes, three group attributes (one with a
baseline example), rankings and ratings, and returns the ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calma.canvas.board import CardKind, card_id
from tests.helpers.api_client import Person
from tests.helpers.live_client import LiveClient, connect_live, live_url
from tests.helpers.server import ServerProcess

TOP3 = {
    "Ravi": [("Historical accuracy", "Facts and dates are right"), ("Balanced views", "Presents several sides")],
    "Mei": [("Balanced views", "More than one perspective"), ("Encourages curiosity", "Invites further questions")],
    "Ana": [("Historical accuracy", "Accurate"), ("Cultural sensitivity", "Respects communities")],
}
ATTRIBUTES: list[tuple[str, str, str | None]] = [
    ("Historical accuracy", "Facts, dates and names are right; nothing is invented.", "Historical accuracy"),
    ("Balanced views", "Presents more than one perspective on contested events.", "Balanced views"),
    ("Encourages curiosity", "Invites the student to ask further questions.", "Encourages curiosity"),
]


@dataclass
class FinishedSession:
    server: ServerProcess
    lead: Person
    study: str
    group: str
    people: dict[str, Person]
    attributes: dict[str, str]  # name → id

    def path(self, suffix: str = "") -> str:
        return f"/api/studies/{self.study}{suffix}"


async def _command(live: LiveClient, study: str, group: str, **command: Any) -> None:
    answer, _ = await live.command(study, group, command)
    assert answer["type"] == "ack", answer


async def run_session(server: ServerProcess, lead: Person, name: str, group_name: str = "History teachers", *,
                      study: str | None = None,
                      attributes: list[tuple[str, str, str | None]] | None = None) -> FinishedSession:
    """`study`: a group in this study (else a new study); `attributes`: (name, definition, top-3 card or None)."""
    chosen = attributes or ATTRIBUTES
    if study is None:
        study = lead.ok("POST", "/api/studies", {"template": "pilot", "name": name}, status=201)["id"]
    group = lead.ok("POST", f"/api/studies/{study}/groups", {"name": group_name}, status=201)["id"]
    people = {}
    for who in TOP3:
        invite = lead.ok("POST", f"/api/studies/{study}/invites", {"group_id": group, "role": "participant"}, status=201)
        people[who] = Person(server, who).join(invite["token"], who)
    baseline = lead.ok("GET", f"/api/studies/{study}")["baseline_interactions"][0]["id"]
    path = f"/api/studies/{study}"
    async with connect_live(live_url(server), lead.cookie_headers) as live:
        await _command(live, study, group, name="segment.set", segment="top3")
        for who, entries in TOP3.items():
            people[who].ok("PUT", f"{path}/discuss/top3", {"entries": [{"name": n, "definition": d} for n, d in entries]})
        await _command(live, study, group, name="reveal", what="top3")
        await _command(live, study, group, name="segment.set", segment="discuss")
        ids = {}
        for index, (attribute, definition, card) in enumerate(chosen):
            body = {"name": attribute, "definition": definition,
                    "provenance": [card_id(CardKind.TOP3, card)] if card else [],
                    "examples": [{"kind": "baseline", "id": baseline}] if index == 0 else []}
            ids[attribute] = people["Ravi"].ok("POST", f"{path}/discuss/attributes", body, status=201)["id"]
        order = [ids[a] for a, _, _ in chosen]
        for who, ballot in (("Ravi", order), ("Mei", [order[1], order[0], order[2]]), ("Ana", order)):
            people[who].ok("PUT", f"{path}/discuss/ranking", {"top3": ballot, "top5": ballot})
        await _command(live, study, group, name="segment.set", segment="rate")
        for who, scores in (("Ravi", (5, 4, 3)), ("Mei", (4, 5, 2)), ("Ana", (5, 4, 4))):
            likert = dict(zip(order, scores, strict=True))
            people[who].ok("PUT", f"{path}/discuss/ratings", {"likert": likert, "ranking": order})
        await _command(live, study, group, name="segment.set", segment="closed")
    return FinishedSession(server, lead, study, group, people, ids)
