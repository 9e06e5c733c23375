"""Property-based fuzzing of the bounded update check (calma.hub.update_check) against Yrs itself.

Three properties: every update an honest Yjs peer (pycrdt) produces passes; a
hand-made lib0 structure passes exactly when its nesting is within the limit,
and what passes Yrs decodes; and bytes mangled at random are either refused by
the check or decoded by Yrs without harm — the check never lets through what
would take the process down, and never hangs or recurses on its own.
"""

from __future__ import annotations

from typing import Any

import pycrdt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calma.hub.protocol import ProtocolError
from calma.hub.update_check import UpdateLimits, UpdateRefused, check_state_vector, check_update
from tests.helpers import lib0

LIMITS = UpdateLimits()
STORED = UpdateLimits(shared_types=True)  # what a stored row (server writes among them) may hold
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=40,
)


def depth_of(value: Any) -> int:
    """Containers on the deepest path (iterative)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            depth += 1
            deepest = max(deepest, depth)
            stack.extend((child, depth) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def honest_updates(draw: st.DrawFn) -> list[bytes]:
    """The updates of a random sequence of edits a Yjs peer might make: maps, arrays, text, nested types."""
    doc = pycrdt.Doc(client_id=draw(st.integers(1, 2**32)))  # drawn, so that examples replay exactly
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    cards = doc.get("cards", type=pycrdt.Map)
    notes = doc.get("notes", type=pycrdt.Array)
    text = doc.get("text", type=pycrdt.Text)
    for step in range(draw(st.integers(1, 12))):
        action = draw(st.sampled_from(["set", "nested", "append", "type", "insert", "delete"]))
        if action == "set":
            cards[f"k{draw(st.integers(0, 5))}"] = draw(json_values)
        elif action == "nested":
            cards[f"n{step}"] = pycrdt.Map({"x": draw(st.floats(-1e6, 1e6)), "t": pycrdt.Text(draw(st.text(max_size=20)))})
        elif action == "append":
            notes.append(draw(json_values))
        elif action == "type":
            notes.append(pycrdt.Array([draw(scalars) for _ in range(draw(st.integers(0, 4)))]))
        elif action == "insert":
            text.insert(min(draw(st.integers(0, 50)), len(text)), draw(st.text(alphabet="abc xyz", min_size=1, max_size=30)))
        elif action == "delete" and len(text) > 0:
            start = draw(st.integers(0, len(text) - 1))
            del text[start : min(len(text), start + draw(st.integers(1, 5)))]
    updates.append(doc.get_update())
    return updates


@FUZZ
@given(honest_updates())
def test_every_update_an_honest_peer_makes_passes_and_clients_may_not_create_shared_types(
    updates: list[bytes],
) -> None:
    for update in updates:
        summary = check_update(update, STORED)
        assert summary.structs >= 0
        check_state_vector(pycrdt.get_state(update), LIMITS)
        try:
            check_update(update, LIMITS)
        except UpdateRefused as refused:  # the one rule an honest peer's update may break: it made a Y type
            assert "may not create shared types" in str(refused)


@FUZZ
@given(json_values, st.integers(min_value=0, max_value=60), st.integers(min_value=1, max_value=300))
def test_a_lib0_structure_passes_exactly_when_its_nesting_is_within_the_limit(
    value: Any, extra_depth: int, width: int
) -> None:
    deep = nest(value, extra_depth)
    wide = [value] * width
    for candidate in (deep, wide, {"deep": deep, "wide": wide}):
        update = lib0.any_update([lib0.encode_any(candidate)])
        if depth_of(candidate) <= LIMITS.max_depth:
            check_update(update, LIMITS)
            doc = pycrdt.Doc()
            doc.apply_update(update)  # what passes, Yrs decodes
            assert "c-0000000000000000" in doc.get("cards", type=pycrdt.Map)
        else:
            with pytest.raises(UpdateRefused, match="nested deeper"):
                check_update(update, LIMITS)


@pytest.mark.parametrize("depth", [1, 32])
def test_stored_shared_types_nested_within_the_limit_pass_and_decode(depth: int) -> None:
    update = lib0.nested_maps(depth)
    assert check_update(update, STORED).max_depth_seen == depth
    pycrdt.Doc().apply_update(update)


@pytest.mark.parametrize("depth", [33, 20_000])
def test_stored_shared_types_nested_past_the_limit_are_refused(depth: int) -> None:
    with pytest.raises(UpdateRefused, match="shared types nested deeper than 32"):
        check_update(lib0.nested_maps(depth), STORED)


@pytest.mark.parametrize("build", [lib0.nested_maps, lib0.origin_placed_arrays])
def test_a_client_creating_any_shared_type_is_refused_however_it_is_placed(build: Any) -> None:
    # Placed by origin, nesting is invisible in the update itself: only refusing client-made types is safe.
    for depth in (1, 40_000):
        with pytest.raises(UpdateRefused, match="may not create shared types"):
            check_update(build(depth), LIMITS)


@pytest.mark.parametrize("depth", [33, 1_000, 40_000, 500_000])
def test_nesting_far_past_the_limit_is_refused_without_recursion(depth: int) -> None:
    update = lib0.any_update([lib0.nested_arrays(depth)])
    with pytest.raises(UpdateRefused, match="nested deeper than 32"):
        check_update(update, LIMITS)


@FUZZ
@given(honest_updates(), st.data())
def test_mangled_bytes_are_refused_or_harmless(updates: list[bytes], data: st.DataObject) -> None:
    update = bytearray(updates[-1])
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "insert", "cut"]))
        position = data.draw(st.integers(0, max(0, len(update) - 1)))
        if action == "flip" and update:
            update[position] = data.draw(st.integers(0, 255))
        elif action == "insert":
            update[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        elif action == "cut":
            del update[position : position + data.draw(st.integers(1, 8))]
    mangled = bytes(update)
    try:
        check_update(mangled, LIMITS)
    except ProtocolError:
        return
    doc = pycrdt.Doc()
    try:
        doc.apply_update(mangled)
    except ValueError:
        pass  # a clean refusal by Yrs after ours: the hub closes 4400


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_never_hang_or_crash_the_check(blob: bytes) -> None:
    try:
        check_update(blob, LIMITS)
    except ProtocolError:
        pass
    try:
        check_state_vector(blob, LIMITS)
    except ProtocolError:
        pass
