"""A real study with one group and tokens for each role, made the way an operator would, for /live tests.

`calma admin create-facilitator`, then the REST API (sign in, create a study
and a group), then `calma admin token` per person: the documented interfaces,
against a running `calma serve`.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import httpx

from tests.helpers.server import REPO, ServerProcess

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class LiveStudy:
    study: str
    group: str
    control_room: str
    tokens: dict[str, str]  # "lead", "ana", "bo", "watcher"


def calma_admin(server: ServerProcess, *args: str, stdin: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "calma", "admin", *args, "--data-dir", str(server.data_dir)],
        input=stdin, capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, f"calma admin {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def make_live_study(server: ServerProcess) -> LiveStudy:
    email = "lead@example.org"
    calma_admin(
        server, "create-facilitator", "--email", email, "--name", "Lead", "--password-stdin", stdin=PASSWORD + "\n"
    )
    with httpx.Client(base_url=server.http_url, timeout=30) as http:
        http.post("/api/session", json={"email": email, "password": PASSWORD}).raise_for_status()
        study = http.post("/api/studies", json={"template": "blank", "name": "Live"}).raise_for_status().json()
        group = http.post(f"/api/studies/{study['id']}/groups", json={"name": "Group A"}).raise_for_status().json()

    def token(role: str, name: str = "participant") -> str:
        return calma_admin(
            server, "token", "--study", study["id"], "--group", group["id"], "--role", role, "--name", name
        )

    tokens = {"lead": token("facilitator"), "ana": token("participant", "Ana"), "bo": token("participant", "Bo"),
              "watcher": token("observer")}  # fmt: skip
    return LiveStudy(study["id"], group["id"], group["control_room"], tokens)
