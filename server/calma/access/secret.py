"""The server secret that signs tokens: 32 random bytes in a file only the server's user can read.

Created on first start (`<data dir>/secret.key`, mode 0600, never overwritten).
A secret file that others may read is refused: anyone who reads it can mint tokens.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

SECRET_BYTES = 32


class SecretFileError(RuntimeError):
    """The secret file is unusable; the message says why and how to fix it."""


def load_or_create_secret(path: Path) -> bytes:
    """The secret in `path`, creating it (0600) if the file does not exist.

    A new secret is written to a private temporary file and hard-linked into
    place, so a process starting at the same moment reads either no file or
    the whole secret, and the first to link wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(SECRET_BYTES) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(draft, path)
            except FileExistsError:
                pass  # another process created it first; use theirs
        finally:
            draft.unlink()
    return _read(path)


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(
            f"{path} is readable by other users (mode {stat.filemode(mode)}); run `chmod 600 {path}`"
        )
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError as exc:
        raise SecretFileError(f"{path} must hold {SECRET_BYTES * 2} hex digits") from exc
    if len(secret) < SECRET_BYTES:
        raise SecretFileError(f"{path} holds {len(secret)} bytes; a secret needs at least {SECRET_BYTES}")
    return secret
