"""The control-channel contract in shared_schema/control.json is the one the server and the client use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest

from calma.live.codes import Refused, schema_mismatches
from calma.live.control_state import TRANSITIONS
from calma.live.frames import decode_client_frame, encode_server_frame
from calma.live.schema import CONTROL_SCHEMA, SchemaError, load_control_schema
from tests.helpers.server import REPO

SCHEMA_PATH = REPO / "shared_schema" / "control.json"


def test_the_generated_typescript_is_what_the_generator_makes_from_the_schema() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_control_types.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, f"client/src/generated/control.ts is out of date:\n{result.stdout}{result.stderr}"


def test_close_and_error_codes_in_the_code_match_the_schema() -> None:
    assert schema_mismatches(CONTROL_SCHEMA) == []


def test_every_command_has_a_transition_and_roles() -> None:
    assert set(TRANSITIONS) == set(CONTROL_SCHEMA.command_roles)
    assert all(CONTROL_SCHEMA.command_roles.values())


def test_control_md_names_every_message_and_command() -> None:
    text = (REPO / "shared_schema" / "control.md").read_text()
    for name in [*CONTROL_SCHEMA.document["messages"], *CONTROL_SCHEMA.command_roles]:
        assert f"`{name}`" in text, name


def tampered(tmp_path: Path, change: Any) -> Path:
    document = json.loads(SCHEMA_PATH.read_text())
    change(document)
    path = tmp_path / "control.json"
    path.write_text(json.dumps(document))
    return path


def test_a_string_without_a_length_limit_is_refused(tmp_path: Path) -> None:
    path = tampered(tmp_path, lambda d: d["types"]["Id"].pop("maxLength"))
    with pytest.raises(SchemaError, match="maxLength is required"):
        load_control_schema(path)


def test_an_array_without_a_size_limit_is_refused(tmp_path: Path) -> None:
    path = tampered(tmp_path, lambda d: d["types"]["ControlState"]["fields"]["queue"].pop("maxItems"))
    with pytest.raises(SchemaError, match="maxItems is required"):
        load_control_schema(path)


def test_a_client_frame_without_the_optional_request_id_is_refused(tmp_path: Path) -> None:
    path = tampered(tmp_path, lambda d: d["messages"]["ping"]["fields"].pop("id"))
    with pytest.raises(SchemaError, match="optional `id`"):
        load_control_schema(path)


def test_an_undefined_reference_is_refused(tmp_path: Path) -> None:
    path = tampered(tmp_path, lambda d: d["messages"]["ping"]["fields"].update(extra={"ref": "Nowhere"}))
    with pytest.raises(SchemaError, match="undefined type 'Nowhere'"):
        load_control_schema(path)


def test_validation_is_strict_about_types() -> None:
    """MessagePack keeps types apart; so does validation: no coercion of strings, bools or floats."""
    command: dict[str, Any] = {"name": "timer.extend", "timer": "segment", "by_ms": 1000}
    good: dict[str, Any] = {"type": "control.command", "id": "7", "study": "s", "group": "g", "command": command}
    frame = decode_client_frame(msgpack.packb(good))
    assert frame.command.by_ms == 1000  # type: ignore[attr-defined]
    for by_ms in ("1000", True, 1000.0, 0, 86_400_001, None):
        bad = {**good, "command": {**command, "by_ms": by_ms}}
        with pytest.raises(Refused) as refused:
            decode_client_frame(msgpack.packb(bad))
        assert refused.value.code.value == "invalid" and refused.value.request_id == "7", by_ms
        assert "by_ms" in refused.value.message


def test_the_server_never_encodes_an_off_schema_frame() -> None:
    assert msgpack.unpackb(encode_server_frame({"type": "ack", "id": None})) == {"type": "ack"}
    with pytest.raises(ValueError):
        encode_server_frame({"type": "pong", "id": "x", "client_time": 1.0})  # no server_time
    with pytest.raises(ValueError):
        encode_server_frame({"type": "error", "code": "oops", "message": "not a code"})
