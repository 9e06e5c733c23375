"""Hand-made lib0 v1 updates, for tests that must send what no honest Yjs client would.

`AnyValue` trees are encoded iteratively (a value nested 40,000 deep is fine);
`item_update` wraps encoded content in a one-struct update under a root map key,
the way a Y.Map set of a plain value looks on the wire.
"""

from __future__ import annotations

import struct
from typing import Any

from calma.hub.protocol import var_uint

CONTENT_ANY = 8
CONTENT_JSON = 2
CONTENT_STRING = 4
CONTENT_TYPE = 7
CONTENT_DOC = 9
HAS_PARENT_SUB = 0x20


def var_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return var_uint(len(raw)) + raw


def var_int(value: int) -> bytes:
    """lib0's signed varInt: sign in bit 6 of the first byte, six bits there, seven in each byte after."""
    negative = value < 0
    magnitude = -value if negative else value
    first = (magnitude & 0x3F) | (0x40 if negative else 0)
    magnitude >>= 6
    out = bytearray([first | (0x80 if magnitude else 0)])
    while magnitude:
        byte = magnitude & 0x7F
        magnitude >>= 7
        out.append(byte | (0x80 if magnitude else 0))
    return bytes(out)


def encode_any(value: Any) -> bytes:
    """lib0 `writeAny` for None, bools, ints, floats, str, bytes, lists and str-keyed dicts, without recursion."""
    out = bytearray()
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Key):
            out += var_string(item.text)
        elif item is None:
            out.append(126)
        elif item is True:
            out.append(120)
        elif item is False:
            out.append(121)
        elif isinstance(item, int) and -(2**31) <= item < 2**31:
            out.append(125)
            out += var_int(item)
        elif isinstance(item, (int, float)):
            out.append(123)
            out += struct.pack(">d", float(item))
        elif isinstance(item, str):
            out.append(119)
            out += var_string(item)
        elif isinstance(item, bytes):
            out.append(116)
            out += var_uint(len(item)) + item
        elif isinstance(item, list):
            out.append(117)
            out += var_uint(len(item))
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            out.append(118)
            out += var_uint(len(item))
            for key, child in reversed(list(item.items())):
                stack.append(child)
                stack.append(_Key(key))
        else:
            raise TypeError(f"cannot encode {type(item).__name__}")
    return bytes(out)


class _Key:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def nested_arrays(depth: int, leaf: Any = 1) -> bytes:
    """The encoding of `[[[...[leaf]...]]]` with `depth` arrays, built flat (fast for any depth)."""
    return bytes([117, 1]) * depth + encode_any(leaf)


def item_update(content_kind: int, content: bytes, *, root: str = "cards", key: str = "c-0000000000000000",
                client: int = 4242, clock: int = 0) -> bytes:
    """A v1 update of one item set under `root`[`key`] with the given encoded content, and no deletes."""
    info = content_kind | HAS_PARENT_SUB
    struct_bytes = bytes([info]) + var_uint(1) + var_string(root) + var_string(key) + content
    return var_uint(1) + var_uint(1) + var_uint(client) + var_uint(clock) + struct_bytes + var_uint(0)


def any_update(encoded_values: list[bytes], **where: Any) -> bytes:
    """An update setting a map key to ContentAny holding the given encoded values."""
    return item_update(CONTENT_ANY, var_uint(len(encoded_values)) + b"".join(encoded_values), **where)


def update_frame(update: bytes) -> bytes:
    """A y-websocket sync-update message carrying `update`."""
    return bytes([0, 2]) + var_uint(len(update)) + update


def nested_maps(depth: int, *, client: int = 77, root: str = "cards", key: str = "a") -> bytes:
    """An update of `depth` Y.Maps, each one set under `key` of the one before: shared types nested deep."""
    structs = bytearray(bytes([CONTENT_TYPE | HAS_PARENT_SUB]) + var_uint(1) + var_string(root) + var_string(key) + var_uint(1))
    for clock in range(1, depth):
        parent = var_uint(client) + var_uint(clock - 1)
        structs += bytes([CONTENT_TYPE | HAS_PARENT_SUB]) + var_uint(0) + parent + var_string(key) + var_uint(1)
    return var_uint(1) + var_uint(depth) + var_uint(client) + var_uint(0) + bytes(structs) + var_uint(0)


def any_under_item(parent: tuple[int, int], value: bytes, *, key: str = "x", client: int = 4243) -> bytes:
    """An update setting `key` inside the item `parent` (client, clock) to one encoded Any value: valid
    lib0, but Yrs refuses to integrate it when that item is not a shared type."""
    parent_id = var_uint(parent[0]) + var_uint(parent[1])
    struct_bytes = bytes([CONTENT_ANY | HAS_PARENT_SUB]) + var_uint(0) + parent_id + var_string(key) + var_uint(1) + value
    return var_uint(1) + var_uint(1) + var_uint(client) + var_uint(0) + struct_bytes + var_uint(0)


HAS_ORIGIN = 0x80
CONTENT_DELETED = 1


def origin_placed_arrays(depth: int, *, client: int = 78, root: str = "cards") -> bytes:
    """`depth` Y.Arrays, each inside the last, where every inner one is placed after a deleted filler item by
    its origin, so the update never names its parent: nesting a walker cannot see without the document."""
    structs = bytearray(bytes([CONTENT_TYPE]) + var_uint(1) + var_string(root) + var_uint(0))
    count = 1
    for level in range(1, depth):
        parent_clock = 2 * (level - 1)
        structs += bytes([CONTENT_DELETED]) + var_uint(0) + var_uint(client) + var_uint(parent_clock) + var_uint(1)
        structs += bytes([CONTENT_TYPE | HAS_ORIGIN]) + var_uint(client) + var_uint(parent_clock + 1) + var_uint(0)
        count += 2
    return var_uint(1) + var_uint(count) + var_uint(client) + var_uint(0) + bytes(structs) + var_uint(0)
