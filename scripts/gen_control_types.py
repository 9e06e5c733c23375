#!/usr/bin/env python3
"""Generate client/src/generated/control.ts (TypeScript types) from shared_schema/control.json.

    .venv/bin/python scripts/gen_control_types.py          # write the file
    .venv/bin/python scripts/gen_control_types.py --check  # exit 1, with a diff, if it is out of date

The schema is first loaded the way the server loads it (calma.live.schema), so
a schema the server would refuse is refused here too. tests/test_live_schema.py
runs `--check`: the committed file is always exactly this script's output.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO / "shared_schema" / "control.json"
OUTPUT_PATH = REPO / "client" / "src" / "generated" / "control.ts"
IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")

HEADER = """\
/**
 * Control-channel (/live) frames and the control document, as TypeScript types.
 *
 * GENERATED from shared_schema/control.json by scripts/gen_control_types.py; do not edit.
 * Change the schema, then run `.venv/bin/python scripts/gen_control_types.py`.
 * tests/test_live_schema.py fails when this file is not exactly the generator's output.
 *
 * Frames are MessagePack maps in binary WebSocket messages. Size limits are in the
 * comments: the server refuses a frame that breaks one with an `error` frame.
 */
"""


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", ".").split("."))


def ts_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def ts_key(key: str) -> str:
    return key if IDENTIFIER.match(key) or key.isdigit() else ts_string(key)


def ts_value(value: Any, indent: str = "") -> str:
    """A JSON value as a TypeScript literal, in the client's style (single quotes, no semicolons)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return ts_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(ts_value(item, indent) for item in value) + "]"
    if not value:
        return "{}"
    inner = indent + "  "
    entries = [f"{inner}{ts_key(str(key))}: {ts_value(item, inner)}," for key, item in value.items()]
    return "{\n" + "\n".join(entries) + f"\n{indent}}}"


def limits_text(spec: Mapping[str, Any]) -> str:
    """The size limits of a type spec, in words, for a doc comment."""
    kind = spec.get("type")
    if kind == "string":
        low = spec.get("minLength")
        parts = [f"{low} to {spec['maxLength']} characters" if low else f"at most {spec['maxLength']} characters"]
        if spec.get("pattern"):
            parts.append(f"matching {spec['pattern']}")
        return ", ".join(parts)
    if kind == "integer":
        return f"an integer from {spec['minimum']} to {spec['maximum']}"
    if kind == "number":
        return f"a finite number from {spec['minimum']} to {spec['maximum']}"
    if kind in ("array", "record"):
        return f"at most {spec['maxItems']} entries"
    return ""


def doc_comment(indent: str, *lines: str) -> list[str]:
    text = [line for line in lines if line]
    if not text:
        return []
    if len(text) == 1:
        return [f"{indent}/** {text[0]} */"]
    return [f"{indent}/**", *(f"{indent} * {line}" for line in text), f"{indent} */"]


class Renderer:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.types: Mapping[str, Any] = document["types"]

    def type_expr(self, spec: Mapping[str, Any]) -> str:
        if "ref" in spec:
            return str(spec["ref"])
        if "enum" in spec:
            return " | ".join(ts_string(value) for value in spec["enum"])
        kind = spec["type"]
        if kind == "string":
            return "string"
        if kind in ("integer", "number"):
            return "number"
        if kind == "boolean":
            return "boolean"
        if kind == "array":
            return f"ReadonlyArray<{self.type_expr(spec['items'])}>"
        if kind == "record":
            key = self.type_expr(spec["keys"])
            return f"{{ readonly [key: {key}]: {self.type_expr(spec['values'])} }}"
        raise ValueError(f"no inline TypeScript for a {kind} (name it in `types`)")

    def field_lines(self, fields: Mapping[str, Any], indent: str = "  ") -> list[str]:
        lines: list[str] = []
        for name, spec in fields.items():
            if isinstance(spec, Mapping) and set(spec) == {"const"}:
                lines.append(f"{indent}readonly {ts_key(name)}: {ts_string(spec['const'])}")
                continue
            expr = self.type_expr(spec)
            if spec.get("nullable"):
                expr += " | null"
            optional = "?" if spec.get("optional") else ""
            lines += doc_comment(indent, spec.get("description", ""), limits_text(spec))
            lines.append(f"{indent}readonly {ts_key(name)}{optional}: {expr}")
        return lines

    def interface(self, name: str, description: str, fields: Mapping[str, Any]) -> list[str]:
        lines = doc_comment("", description)
        if not fields:
            return [*lines, f"export type {name} = Readonly<Record<never, never>>"]
        return [*lines, f"export interface {name} {{", *self.field_lines(fields), "}"]

    def named_type(self, name: str, spec: Mapping[str, Any]) -> list[str]:
        description = spec.get("description", "")
        if spec.get("type") == "object":
            return self.interface(name, description, spec["fields"])
        if spec.get("type") == "union":
            tag = spec["tag"]
            lines: list[str] = []
            members = []
            for value, variant in spec["variants"].items():
                member = pascal(value) + name
                members.append(member)
                roles = ", ".join(variant.get("roles", []))
                lines += doc_comment("", variant.get("description", ""), f"Who may send it: {roles}." if roles else "")
                lines += self.interface(member, "", {tag: {"const": value}, **variant["fields"]})
                lines.append("")
            return [*lines, *doc_comment("", description), f"export type {name} =", *(f"  | {m}" for m in members)]
        return [*doc_comment("", description, limits_text(spec)), f"export type {name} = {self.type_expr(spec)}"]

    def render(self) -> str:
        document = self.document
        out: list[str] = [HEADER]
        out += [
            "/** The protocol version a server announces in `hello`. */",
            f"export const CONTROL_PROTOCOL = {document['protocol']}",
            "",
            "/** Where the control channel is served. */",
            f"export const CONTROL_ENDPOINT = {ts_string(document['endpoint'])}",
            "",
            "/** The server's limits: frames per second (with a burst), frame size, and more (see control.md). */",
            f"export const CONTROL_LIMITS = {ts_value(document['limits'])} as const",
            "",
            "// -- types ---------------------------------------------------------------",
            "",
        ]
        for name, spec in self.types.items():
            out += [*self.named_type(name, spec), ""]

        out += ["// -- frames --------------------------------------------------------------", ""]
        client: list[str] = []
        server: list[str] = []
        for name, message in document["messages"].items():
            frame = pascal(name) + "Frame"
            (client if message["direction"] == "client" else server).append(frame)
            direction = "client → server" if message["direction"] == "client" else "server → client"
            out += [
                *self.interface(
                    frame,
                    f"`{name}` ({direction}): {message.get('description', '')}",
                    {"type": {"const": name}, **message["fields"]},
                ),
                "",
            ]
        out += ["/** Every frame a client may send. */", "export type ClientFrame =", *(f"  | {f}" for f in client), ""]
        out += ["/** Every frame a server may send. */", "export type ServerFrame =", *(f"  | {f}" for f in server), ""]
        client_types = [name for name, m in document["messages"].items() if m["direction"] == "client"]
        server_types = [name for name, m in document["messages"].items() if m["direction"] == "server"]
        out += [
            f"export const CLIENT_FRAME_TYPES: ReadonlyArray<ClientFrame['type']> = {ts_value(client_types)}",
            "",
            f"export const SERVER_FRAME_TYPES: ReadonlyArray<ServerFrame['type']> = {ts_value(server_types)}",
            "",
        ]

        roles = {name: variant.get("roles", []) for name, variant in self.types["Command"]["variants"].items()}
        out += [
            "// -- who may do what, errors and close codes -------------------------------",
            "",
            "/** The roles that may send each command; the server refuses others with `forbidden`. */",
            "export const COMMAND_ROLES: { readonly [N in Command['name']]: ReadonlyArray<Role> } = " + ts_value(roles),
            "",
            "/** What each error code means. */",
            "export const ERROR_CODE_MEANINGS: { readonly [C in ErrorCode]: string } = "
            + ts_value(document["error_codes"]),
            "",
            "export interface ControlCloseCode {",
            "  readonly name: string",
            "  readonly reason: string",
            "  /** Whether reconnecting can help. */",
            "  readonly retry: boolean",
            "}",
            "",
            "/** WebSocket close codes of /live. */",
            "export const CONTROL_CLOSE_CODES: { readonly [code: number]: ControlCloseCode } = "
            + ts_value({int(code): entry for code, entry in document["close_codes"].items()}),
            "",
        ]

        control = document["control_document"]
        placeholders = re.findall(r"\{([a-z]+)\}", control["room"])
        template = re.sub(r"\{([a-z]+)\}", r"${\1}", control["room"])
        defaults = {name: spec["default"] for name, spec in self.types["ControlState"]["fields"].items()}
        out += [
            "// -- the control document --------------------------------------------------",
            "",
            *doc_comment("", control["description"]),
            f"export const CONTROL_MAP = {ts_string(control['map'])}",
            "",
            "/** The state of a control document in which nothing has happened yet (absent entries read as these). */",
            f"export const CONTROL_STATE_DEFAULTS: ControlState = {ts_value(defaults)}",
            "",
            "/** The hub room holding a live session's control document (read-only for clients). */",
            f"export function controlRoomName ({', '.join(f'{p}: Id' for p in placeholders)}): string {{",
            f"  return `{template}`",
            "}",
        ]
        return "\n".join(out) + "\n"


def generate(schema_path: Path = SCHEMA_PATH) -> str:
    from calma.live.schema import load_control_schema

    load_control_schema(schema_path)  # refuse what the server would refuse
    return Renderer(json.loads(schema_path.read_text(encoding="utf-8"))).render()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file is out of date")
    parser.add_argument("--output", type=Path, default=OUTPUT_PATH)
    args = parser.parse_args(argv)
    generated = generate()
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
    if args.check:
        if current == generated:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True), generated.splitlines(keepends=True), str(args.output), "generated"
        )
        sys.stdout.writelines(diff)
        print(f"\n{args.output} is out of date: run .venv/bin/python scripts/gen_control_types.py", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(generated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
