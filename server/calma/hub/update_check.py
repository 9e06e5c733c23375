"""The bounded check every Yjs update passes before any native decoder sees it.

Owns `check_update` and `check_state_vector`: a single forward pass over the
lib0 v1 encoding (the format of the y-websocket protocol's sync messages) that
refuses what Yrs would choke on or that no board needs, before the bytes reach
Yrs (`pycrdt`), the store of record or another client. The walk is iterative —
nested `Any` values are followed with an explicit stack, never by recursion —
and every count, length, depth and size is checked against `UpdateLimits` as it
is read, so a hostile frame costs at most one pass over its own bytes.

What is refused: truncated or trailing bytes; struct kinds and type refs Yjs
does not define; sub-documents (`ContentDoc`: no room uses them); shared types
created by a client (`ContentType`; stored rows may hold them); `Any` values
nested deeper than `max_depth` (also inside JSON text of `ContentJSON`,
`ContentEmbed` and `ContentFormat`); strings and binaries over their limits;
more structs, `Any` values, clients or delete ranges than allowed; clocks and
lengths past Yrs's 32-bit clocks. It says nothing about *what* an update
changes: a room's `UpdateGuard` decides that (`calma.hub.guard`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from calma.hub.protocol import ProtocolError, Reader

# Struct kinds: the low five bits of an item's info byte (Yjs's `readStructs`, Yrs's `BLOCK_*`).
GC = 0
CONTENT_DELETED = 1
CONTENT_JSON = 2
CONTENT_BINARY = 3
CONTENT_STRING = 4
CONTENT_EMBED = 5
CONTENT_FORMAT = 6
CONTENT_TYPE = 7
CONTENT_ANY = 8
CONTENT_DOC = 9
SKIP = 10

# Info-byte flags.
HAS_ORIGIN = 0x80
HAS_RIGHT_ORIGIN = 0x40
HAS_PARENT_SUB = 0x20

# Shared type refs (ContentType): Array, Map, Text, XmlElement, XmlFragment, XmlHook, XmlText.
TYPE_XML_ELEMENT = 3
TYPE_XML_HOOK = 5
MAX_TYPE_REF = 6

# lib0 `Any` tags.
ANY_UNDEFINED = 127
ANY_NULL = 126
ANY_INTEGER = 125
ANY_FLOAT32 = 124
ANY_FLOAT64 = 123
ANY_BIGINT = 122
ANY_FALSE = 121
ANY_TRUE = 120
ANY_STRING = 119
ANY_OBJECT = 118
ANY_ARRAY = 117
ANY_BINARY = 116

MAX_CLOCK = 2**32 - 1  # Yrs keeps clocks as u32
MAX_CLIENT_ID = 2**53 - 1  # what a JavaScript client can hold


class UpdateRefused(ProtocolError):
    """The update is well-formed lib0 but exceeds a limit or uses something no room accepts."""


@dataclass(frozen=True, slots=True)
class UpdateLimits:
    """How much one update may hold. The defaults fit any board edit and refuse what only an attack sends."""

    # Whether the update may create shared types (Y.Map, Y.Array, Y.Text, XML) as items. Clients may not: every
    # type a client's document needs is created by the server (the edits room's definitions) or is a root, and a
    # type placed beside a sibling hides how deeply it is nested, which readers (and Yrs's own delete) recurse
    # through. Stored rows (server writes among them) may.
    shared_types: bool = False
    max_depth: int = 32  # nesting of Any arrays/objects (and of JSON text in JSON/embed/format content)
    max_string_bytes: int = 256 * 1024
    max_binary_bytes: int = 256 * 1024
    max_structs: int = 100_000
    max_any_values: int = 100_000
    max_clients: int = 100_000  # every server write of a room's past may have its own client id
    max_delete_ranges: int = 100_000

    def scaled_for(self, byte_size: int) -> UpdateLimits:
        """Limits for a stored snapshot or merged log of `byte_size` bytes: sizes and counts may grow with the
        document (Yrs squashes runs of text into one string), the nesting depth may not."""
        return UpdateLimits(
            shared_types=True,
            max_depth=self.max_depth,
            max_string_bytes=max(self.max_string_bytes, byte_size),
            max_binary_bytes=max(self.max_binary_bytes, byte_size),
            max_structs=max(self.max_structs, byte_size),
            max_any_values=max(self.max_any_values, byte_size),
            max_clients=max(self.max_clients, byte_size),
            max_delete_ranges=max(self.max_delete_ranges, byte_size),
        )


@dataclass(frozen=True, slots=True)
class UpdateSummary:
    """What the walk counted (for metrics and tests)."""

    structs: int
    any_values: int
    delete_ranges: int
    max_depth_seen: int


class _Walker:
    """One pass over one update; holds the running counts."""

    def __init__(self, data: bytes, limits: UpdateLimits, known: Mapping[int, int] | None = None) -> None:
        self.reader = Reader(data)
        self.limits = limits
        self.known = known or {}
        self.structs = 0
        self.any_values = 0
        self.delete_ranges = 0
        self.depth_seen = 0
        # Shared types created in this update, by id: how deeply each is nested in others (a root's child is 1).
        self.type_depths: dict[tuple[int, int], int] = {}

    # -- primitives ------------------------------------------------------

    def u8(self) -> int:
        reader = self.reader
        if reader.pos >= len(reader.data):
            raise ProtocolError("truncated update")
        byte = reader.data[reader.pos]
        reader.pos += 1
        return byte

    def skip(self, count: int) -> None:
        reader = self.reader
        if reader.pos + count > len(reader.data):
            raise ProtocolError("truncated update")
        reader.pos += count

    def clock(self, what: str) -> int:
        value = self.reader.var_uint()
        if value > MAX_CLOCK:
            raise UpdateRefused(f"{what} {value} exceeds the 32-bit clock range")
        return value

    def client(self) -> int:
        value = self.reader.var_uint()
        if value > MAX_CLIENT_ID:
            raise UpdateRefused(f"client id {value} exceeds 2^53 - 1")
        return value

    def string(self, what: str) -> str:
        length = self.reader.var_uint()
        if length > self.limits.max_string_bytes:
            raise UpdateRefused(f"{what} of {length} bytes exceeds {self.limits.max_string_bytes}")
        reader = self.reader
        end = reader.pos + length
        if end > len(reader.data):
            raise ProtocolError(f"{what} runs past the end of the update")
        raw = reader.data[reader.pos : end]
        reader.pos = end
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"{what} is not valid UTF-8") from exc

    def binary(self) -> None:
        length = self.reader.var_uint()
        if length > self.limits.max_binary_bytes:
            raise UpdateRefused(f"binary content of {length} bytes exceeds {self.limits.max_binary_bytes}")
        self.skip(length)

    def signed_var_int(self) -> None:
        byte = self.u8()
        bits = 6
        while byte & 0x80:
            byte = self.u8()
            bits += 7
            if bits > 70:
                raise ProtocolError("varInt longer than 64 bits")

    def count(self, what: str, limit: int) -> int:
        value = self.reader.var_uint()
        if value > limit:
            raise UpdateRefused(f"{what} {value} exceeds {limit}")
        return value

    # -- content ---------------------------------------------------------

    def any_values_(self, count: int) -> None:
        """Walk `count` consecutive lib0 Any values; nested arrays and objects go on an explicit stack."""
        limits = self.limits
        # Each frame: [values still to read at this level, whether this level is an object (keys before values)].
        stack: list[list[int]] = [[count, 0]]
        while stack:
            frame = stack[-1]
            if frame[0] == 0:
                stack.pop()
                continue
            frame[0] -= 1
            if frame[1]:
                self.string("object key")
            self.any_values += 1
            if self.any_values > limits.max_any_values:
                raise UpdateRefused(f"more than {limits.max_any_values} values in one update")
            tag = self.u8()
            if tag in (ANY_UNDEFINED, ANY_NULL, ANY_FALSE, ANY_TRUE):
                continue
            if tag == ANY_INTEGER:
                self.signed_var_int()
            elif tag == ANY_FLOAT32:
                self.skip(4)
            elif tag in (ANY_FLOAT64, ANY_BIGINT):
                self.skip(8)
            elif tag == ANY_STRING:
                self.string("string value")
            elif tag == ANY_BINARY:
                self.binary()
            elif tag in (ANY_ARRAY, ANY_OBJECT):
                depth = len(stack)  # the new level's depth (the top level is 1)
                if depth > limits.max_depth:
                    raise UpdateRefused(f"values nested deeper than {limits.max_depth} levels")
                self.depth_seen = max(self.depth_seen, depth)
                length = self.count("array or object length", limits.max_any_values)
                stack.append([length, 1 if tag == ANY_OBJECT else 0])
            else:
                raise ProtocolError(f"unknown value type {tag}")

    def json_text(self, what: str) -> None:
        """JSON carried as text: check its nesting without parsing it."""
        depth = json_depth(self.string(what), self.limits.max_depth)
        if depth > self.limits.max_depth:
            raise UpdateRefused(f"{what} nested deeper than {self.limits.max_depth} levels")
        self.depth_seen = max(self.depth_seen, depth)

    def content(self, kind: int) -> int:
        """Walk one item's content; return its length in clock ticks."""
        if kind == CONTENT_DELETED:
            return self.clock("deleted length")
        if kind == CONTENT_JSON:
            length = self.count("JSON content length", self.limits.max_any_values)
            for _ in range(length):
                self.json_text("JSON content")
            return length
        if kind == CONTENT_ANY:
            length = self.count("value count", self.limits.max_any_values)
            self.any_values_(length)
            return length
        if kind == CONTENT_STRING:
            text = self.string("string content")
            return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)  # Yjs counts UTF-16 code units
        if kind == CONTENT_BINARY:
            self.binary()
        elif kind == CONTENT_EMBED:
            self.json_text("embed content")
        elif kind == CONTENT_FORMAT:
            self.string("format key")
            self.json_text("format value")
        elif kind == CONTENT_TYPE:
            type_ref = self.reader.var_uint()
            if type_ref > MAX_TYPE_REF:
                raise UpdateRefused(f"unknown shared type {type_ref}")
            if type_ref in (TYPE_XML_ELEMENT, TYPE_XML_HOOK):
                self.string("XML name")
        elif kind == CONTENT_DOC:
            raise UpdateRefused("sub-documents are not accepted")
        else:
            raise ProtocolError(f"unknown struct kind {kind}")
        return 1

    # -- structure -------------------------------------------------------

    def item(self, info: int, item_id: tuple[int, int]) -> int:
        """Walk one item; return its length. Shared types nested in types of this same update are counted:
        readers of a document (its JSON, say) recurse through nested types, so their depth is bounded too."""
        depth = 0  # unknown: the parent is a root, or an item of an earlier update, or given by the origin
        if info & HAS_ORIGIN:
            self.client()
            self.clock("origin clock")
        if info & HAS_RIGHT_ORIGIN:
            self.client()
            self.clock("right origin clock")
        if not info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN):
            if self.reader.var_uint() == 1:
                self.string("root type name")
            else:
                parent = (self.client(), self.clock("parent clock"))
                depth = self.type_depths.get(parent, 0)
            if info & HAS_PARENT_SUB:
                self.string("map key")
        kind = info & 0x1F
        if kind == CONTENT_TYPE:
            if not self.limits.shared_types and item_id[1] >= self.known.get(item_id[0], 0):
                raise UpdateRefused("clients may not create shared types here (Y.Map, Y.Array, Y.Text, XML); "
                                    "write plain values")
            depth += 1
            if depth > self.limits.max_depth:
                raise UpdateRefused(f"shared types nested deeper than {self.limits.max_depth} levels")
            self.type_depths[item_id] = depth
            self.depth_seen = max(self.depth_seen, depth)
        return self.content(kind)

    def structs_section(self) -> None:
        limits = self.limits
        clients = self.count("client count", limits.max_clients)
        for _ in range(clients):
            structs = self.count("struct count", limits.max_structs)
            client = self.client()
            clock = self.clock("clock")
            self.structs += structs
            if self.structs > limits.max_structs:
                raise UpdateRefused(f"more than {limits.max_structs} structs in one update")
            for _ in range(structs):
                info = self.u8()
                kind = info & 0x1F
                if kind in (GC, SKIP):
                    length = self.clock("length")
                else:
                    length = self.item(info, (client, clock))
                clock += length
                if clock > MAX_CLOCK:
                    raise UpdateRefused("structs run past the 32-bit clock range")

    def delete_set(self) -> None:
        limits = self.limits
        clients = self.count("delete set client count", limits.max_clients)
        for _ in range(clients):
            self.client()
            ranges = self.count("delete range count", limits.max_delete_ranges)
            self.delete_ranges += ranges
            if self.delete_ranges > limits.max_delete_ranges:
                raise UpdateRefused(f"more than {limits.max_delete_ranges} delete ranges in one update")
            for _ in range(ranges):
                start = self.clock("deleted clock")
                length = self.clock("deleted length")
                if start + length > MAX_CLOCK:
                    raise UpdateRefused("a deleted range runs past the 32-bit clock range")


def json_depth(text: str, stop_past: int) -> int:
    """How deeply JSON text nests arrays and objects (brackets outside strings), counting no further than
    `stop_past + 1`; a single pass with no recursion, so it is safe on any text, valid JSON or not."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_past:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def check_update(update: bytes, limits: UpdateLimits, known: Mapping[int, int] | None = None) -> UpdateSummary:
    """Walk a v1 update once; return its counts, or raise ProtocolError (UpdateRefused for limits).

    `known` is the room's state vector (client id → next clock): a shared type the room already holds may come
    back in a client's update (a sync step 2 answering a state vector from before a server write echoes it), and
    Yrs skips it; only types the room does not have yet count as created by the client."""
    walker = _Walker(update, limits, known)
    walker.structs_section()
    walker.delete_set()
    walker.reader.expect_end()
    return UpdateSummary(walker.structs, walker.any_values, walker.delete_ranges, walker.depth_seen)


def check_state_vector(state_vector: bytes, limits: UpdateLimits) -> None:
    """Walk a v1 state vector (client id → clock pairs), or raise ProtocolError."""
    walker = _Walker(state_vector, limits)
    for _ in range(walker.count("state vector length", limits.max_clients)):
        walker.client()
        walker.clock("clock")
    walker.reader.expect_end()
