"""Running `calma admin ...` against a server's data dir, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.server import REPO


class AdminFailed(Exception):
    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(f"calma admin exited with {returncode}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


def calma_admin(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    """Run `calma admin <args> --data-dir <data_dir>`; its stdout, or AdminFailed with its stderr."""
    command, *rest = args
    result = subprocess.run(
        [sys.executable, "-m", "calma", "admin", command, "--data-dir", str(data_dir), *rest],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
        timeout=60,
    )
    if result.returncode != 0:
        raise AdminFailed(result.returncode, result.stderr)
    return result.stdout


def create_facilitator(data_dir: Path, email: str, name: str, password: str) -> None:
    calma_admin(data_dir, "create-facilitator", "--email", email, "--name", name, "--password-stdin", stdin=password + "\n")


def admin_token(
    data_dir: Path, *, study: str, role: str, group: str | None = None, ttl: int | None = None, name: str | None = None
) -> str:
    args = ["token", "--study", study, "--role", role]
    if group is not None:
        args += ["--group", group]
    if ttl is not None:
        args += ["--ttl", str(ttl)]
    if name is not None:
        args += ["--name", name]
    return calma_admin(data_dir, *args).strip()
