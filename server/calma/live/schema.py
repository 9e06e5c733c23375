"""The control-channel contract, read from shared_schema/control.json when this module is imported.

Owns checking that document (every string and collection has a size limit,
every reference resolves) and turning it into strict pydantic models: one per
message type, for frames in both directions. Nothing here is hand-written per
message, so the server cannot drift from the schema; a malformed schema fails
at import, loudly. Every string of a client frame must also be storable text
(`calma.studies.text`: no NUL, no lone surrogate), whatever the schema says of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, create_model
from pydantic_core import PydanticCustomError

from calma.studies.text import unstorable

# A wheel carries shared_schema/ inside the package (pyproject's force-include); a checkout reads the repo's.
_PACKAGED = Path(__file__).resolve().parents[1] / "_shared_schema" / "control.json"
SCHEMA_PATH = _PACKAGED if _PACKAGED.is_file() else Path(__file__).resolve().parents[3] / "shared_schema" / "control.json"

STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)
DIRECTIONS = ("client", "server")
TYPE_KINDS = ("string", "integer", "number", "boolean", "array", "record", "object", "union")
FIELD_MODIFIERS = ("optional", "nullable", "default", "description")


class SchemaError(ValueError):
    """shared_schema/control.json does not follow the type language of control.md."""


@dataclass(frozen=True)
class ControlSchema:
    """The loaded contract: the raw document, and strict models built from it."""

    document: Mapping[str, Any]
    protocol: int
    limits: Mapping[str, int | float]
    client_messages: Mapping[str, type[BaseModel]]
    server_messages: Mapping[str, type[BaseModel]]
    optional_fields: Mapping[str, frozenset[str]]
    command_roles: Mapping[str, frozenset[str]]
    error_codes: tuple[str, ...]
    close_codes: Mapping[int, Mapping[str, Any]]
    request_id: TypeAdapter[str]
    control_state: TypeAdapter[Any]
    control_state_defaults: Mapping[str, Any]
    control_room: str
    control_map: str


def pascal(name: str) -> str:
    """`session.subscribe` → `SessionSubscribe`; `control_state` → `ControlState`."""
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", ".").split("."))


def _storable(value: str) -> str:
    problem = unstorable(value)
    if problem is not None:
        raise PydanticCustomError("text_unstorable", problem)
    return value


class _ModelBuilder:
    """Turns type specs into pydantic annotations; named types are built once, on first use.

    `storable_text`: every string also refuses what the store cannot hold (for frames clients send)."""

    def __init__(self, types: Mapping[str, Any], *, storable_text: bool = False) -> None:
        self._types = types
        self._storable_text = storable_text
        self._built: dict[str, Any] = {}
        self._building: set[str] = set()

    def named(self, name: str) -> Any:
        if name in self._built:
            return self._built[name]
        if name not in self._types:
            raise SchemaError(f"reference to an undefined type {name!r}")
        if name in self._building:
            raise SchemaError(f"type {name!r} refers to itself")
        self._building.add(name)
        annotation = self.annotation(self._types[name], name, f"types.{name}")
        self._building.discard(name)
        self._built[name] = annotation
        return annotation

    def annotation(self, spec: Any, name: str, where: str) -> Any:
        if not isinstance(spec, dict):
            raise SchemaError(f"{where}: a type must be an object")
        if "ref" in spec:
            _only(spec, {"ref", *FIELD_MODIFIERS}, where)
            return self.named(spec["ref"])
        if "enum" in spec:
            _only(spec, {"enum", *FIELD_MODIFIERS}, where)
            values = spec["enum"]
            if not values or not all(isinstance(v, str) for v in values) or len(set(values)) != len(values):
                raise SchemaError(f"{where}: enum needs distinct strings")
            return Literal[tuple(values)]
        kind = spec.get("type")
        if kind not in TYPE_KINDS:
            raise SchemaError(f"{where}: unknown type {kind!r} (one of {', '.join(TYPE_KINDS)}, ref or enum)")
        if kind == "string":
            _only(spec, {"type", "minLength", "maxLength", "pattern", *FIELD_MODIFIERS}, where)
            max_length = _required_int(spec, "maxLength", where)
            constraints = StringConstraints(
                min_length=spec.get("minLength"), max_length=max_length, pattern=spec.get("pattern")
            )
            if self._storable_text:
                return Annotated[str, constraints, AfterValidator(_storable)]
            return Annotated[str, constraints]
        if kind == "integer":
            _only(spec, {"type", "minimum", "maximum", *FIELD_MODIFIERS}, where)
            return Annotated[
                int, Field(ge=_required_int(spec, "minimum", where), le=_required_int(spec, "maximum", where))
            ]
        if kind == "number":
            _only(spec, {"type", "minimum", "maximum", *FIELD_MODIFIERS}, where)
            low, high = _required_number(spec, "minimum", where), _required_number(spec, "maximum", where)
            return Annotated[float, Field(ge=low, le=high, allow_inf_nan=False)]
        if kind == "boolean":
            _only(spec, {"type", *FIELD_MODIFIERS}, where)
            return bool
        if kind == "array":
            _only(spec, {"type", "items", "maxItems", *FIELD_MODIFIERS}, where)
            items = self.annotation(spec.get("items"), name, f"{where}.items")
            return Annotated[list[items], Field(max_length=_required_int(spec, "maxItems", where))]  # type: ignore[valid-type]
        if kind == "record":
            _only(spec, {"type", "keys", "values", "maxItems", *FIELD_MODIFIERS}, where)
            keys = self.annotation(spec.get("keys"), name, f"{where}.keys")
            values = self.annotation(spec.get("values"), name, f"{where}.values")
            return Annotated[dict[keys, values], Field(max_length=_required_int(spec, "maxItems", where))]  # type: ignore[valid-type]
        if kind == "object":
            _only(spec, {"type", "fields", *FIELD_MODIFIERS}, where)
            return self.model(pascal(name), spec.get("fields"), where)
        _only(spec, {"type", "tag", "variants", *FIELD_MODIFIERS}, where)
        tag, variants = spec.get("tag"), spec.get("variants")
        if not isinstance(tag, str) or not isinstance(variants, dict) or not variants:
            raise SchemaError(f"{where}: a union needs a string tag and variants")
        members = []
        for value, variant in variants.items():
            _only(variant, {"fields", "roles", "description"}, f"{where}.variants.{value}")
            fields = variant.get("fields")
            if not isinstance(fields, dict) or tag in fields:
                raise SchemaError(f"{where}.variants.{value}: needs fields, without the tag {tag!r}")
            members.append(self.model(pascal(value) + pascal(name), {tag: {"const": value}, **fields}, where))
        return Annotated[Union[tuple(members)], Field(discriminator=tag)]  # noqa: UP007

    def model(self, model_name: str, fields: Any, where: str) -> type[BaseModel]:
        if not isinstance(fields, dict):
            raise SchemaError(f"{where}: an object needs fields")
        definitions: dict[str, Any] = {}
        for field_name, spec in fields.items():
            if isinstance(spec, dict) and set(spec) == {"const"}:
                definitions[field_name] = (Literal[spec["const"]], ...)
                continue
            annotation = self.annotation(spec, f"{model_name}_{field_name}", f"{where}.{field_name}")
            if spec.get("nullable"):
                annotation = annotation | None
            # Optional: may be absent (then None); an explicit nil is still checked against the type.
            definitions[field_name] = (annotation, None if spec.get("optional") else ...)
        return create_model(model_name, __config__=STRICT, **definitions)


def _only(spec: Any, allowed: set[str], where: str) -> None:
    if not isinstance(spec, dict):
        raise SchemaError(f"{where}: expected an object")
    unknown = set(spec) - allowed
    if unknown:
        raise SchemaError(f"{where}: unknown keys {sorted(unknown)}")


def _required_int(spec: Mapping[str, Any], key: str, where: str) -> int:
    value = spec.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SchemaError(f"{where}: {key} is required (every field has a size limit)")
    return value


def _required_number(spec: Mapping[str, Any], key: str, where: str) -> float:
    value = spec.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SchemaError(f"{where}: {key} is required (every number has bounds)")
    return float(value)


def load_control_schema(path: Path = SCHEMA_PATH) -> ControlSchema:
    """Read and check the schema document; build a strict model per message."""
    document = json.loads(path.read_text(encoding="utf-8"))
    types = document.get("types")
    messages = document.get("messages")
    if not isinstance(types, dict) or not isinstance(messages, dict):
        raise SchemaError("control.json needs `types` and `messages` objects")
    builder = _ModelBuilder(types)  # what the server sends and writes
    client_builder = _ModelBuilder(types, storable_text=True)  # what clients send
    client: dict[str, type[BaseModel]] = {}
    server: dict[str, type[BaseModel]] = {}
    optional: dict[str, frozenset[str]] = {}
    for name, message in messages.items():
        _only(message, {"direction", "description", "fields"}, f"messages.{name}")
        direction = message.get("direction")
        if direction not in DIRECTIONS:
            raise SchemaError(f"messages.{name}: direction must be one of {DIRECTIONS}")
        fields = message.get("fields")
        if not isinstance(fields, dict) or "type" in fields:
            raise SchemaError(f"messages.{name}: needs fields (without `type`, which is the message name)")
        if direction == "client" and fields.get("id") != {"ref": "RequestId", "optional": True}:
            raise SchemaError(f"messages.{name}: every client frame has an optional `id` of type RequestId")
        direction_builder = client_builder if direction == "client" else builder
        model = direction_builder.model(pascal(name) + "Frame", {"type": {"const": name}, **fields}, f"messages.{name}")
        (client if direction == "client" else server)[name] = model
        optional[name] = frozenset(field for field, spec in fields.items() if spec.get("optional"))
    for name in types:
        builder.named(name)  # every named type builds, used or not

    command = types.get("Command", {})
    command_roles = {name: frozenset(variant.get("roles", ())) for name, variant in command.get("variants", {}).items()}
    roles = set(types["Role"]["enum"])
    for name, allowed in command_roles.items():
        if not allowed or not allowed <= roles:
            raise SchemaError(f"types.Command.variants.{name}: roles must be a non-empty subset of {sorted(roles)}")

    error_codes = tuple(document.get("error_codes", {}))
    if list(error_codes) != list(types["ErrorCode"]["enum"]):
        raise SchemaError("error_codes and types.ErrorCode.enum must list the same codes in the same order")

    state_fields = types["ControlState"]["fields"]
    missing_defaults = [name for name, spec in state_fields.items() if "default" not in spec]
    if missing_defaults:
        raise SchemaError(f"types.ControlState: every field needs a default (missing: {missing_defaults})")
    control_state: TypeAdapter[Any] = TypeAdapter(builder.named("ControlState"))
    defaults = {name: spec["default"] for name, spec in state_fields.items()}
    control_state.validate_python(defaults)

    return ControlSchema(
        document=document,
        protocol=int(document["protocol"]),
        limits=dict(document["limits"]),
        client_messages=client,
        server_messages=server,
        optional_fields=optional,
        command_roles=command_roles,
        error_codes=error_codes,
        close_codes={int(code): entry for code, entry in document["close_codes"].items()},
        request_id=TypeAdapter(client_builder.named("RequestId")),
        control_state=control_state,
        control_state_defaults=defaults,
        control_room=str(document["control_document"]["room"]),
        control_map=str(document["control_document"]["map"]),
    )


CONTROL_SCHEMA = load_control_schema()
