"""Two pycrdt clients in one room converge, and a late joiner gets the whole board."""

from __future__ import annotations

from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import add_label, connect_doc, label_texts


async def test_two_clients_converge_and_a_late_joiner_gets_everything(server: ServerProcess) -> None:
    url = server.room_url("pilot-group-a")
    async with connect_doc(url) as alice, connect_doc(url) as bob:
        add_label(alice.doc, "respects students' curiosity", author="alice")
        add_label(bob.doc, "culturally grounded", author="bob")
        both = {"respects students' curiosity", "culturally grounded"}
        await alice.wait_for(lambda doc: set(label_texts(doc)) == both)
        await bob.wait_for(lambda doc: set(label_texts(doc)) == both)
        assert label_texts(alice.doc) == label_texts(bob.doc)

        async with connect_doc(url) as carol:
            assert set(label_texts(carol.doc)) == both
            assert label_texts(carol.doc) == label_texts(alice.doc)


async def test_rooms_are_separate(server: ServerProcess) -> None:
    async with connect_doc(server.room_url("room-one")) as one:
        add_label(one.doc, "only in room one")
        async with connect_doc(server.room_url("room-one")) as again:
            await again.wait_for(lambda doc: label_texts(doc) == ["only in room one"])
        async with connect_doc(server.room_url("room-two")) as other:
            # Room two's history is empty; a label relayed from room one would arrive before this sync completes.
            assert label_texts(other.doc) == []
