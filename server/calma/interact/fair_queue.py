"""Waiting for a model, fairly: round-robin over participants, first-come within one participant.

A participant with ten requests waiting gets one turn, then everyone else
waiting gets one, and so on: nobody is starved by another's backlog.
Participants are ordered by when they were last served (never served
first, then longest ago), so one who was just served waits behind others
even if their own line had emptied meanwhile. A waiter's position is how
many waiters would be served before it.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import anyio


@dataclass(eq=False)
class Waiter:
    """One generation waiting for a slot on one model."""

    model: str
    participant: str
    on_position: Callable[[int], None]
    avoid: frozenset[str] = frozenset()  # endpoint keys already tried (retries prefer others)
    ready: anyio.Event = field(default_factory=anyio.Event)
    granted: object | None = None  # the pool's slot, once granted
    failure: Exception | None = None  # set instead of `granted` when it cannot be served
    position: int = -1


class FairQueue:
    """The waiters of one model."""

    def __init__(self) -> None:
        self._queues: OrderedDict[str, deque[Waiter]] = OrderedDict()  # by arrival of the participant's line
        self._served: dict[str, int] = {}  # participant → when last served (a counter)
        self._turns = 0

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def push(self, waiter: Waiter, *, front: bool = False) -> None:
        """Queue a waiter: at the end of its participant's line (or the front, for a retry)."""
        queue = self._queues.get(waiter.participant)
        if queue is None:
            queue = self._queues[waiter.participant] = deque()
        if front:
            queue.appendleft(waiter)
        else:
            queue.append(waiter)

    def remove(self, waiter: Waiter) -> bool:
        queue = self._queues.get(waiter.participant)
        if queue is None or waiter not in queue:
            return False
        queue.remove(waiter)
        if not queue:
            del self._queues[waiter.participant]
        return True

    def in_order(self) -> Iterator[Waiter]:
        """Every waiter in the order they would be served: round-robin over participants."""
        rotation = sorted(self._queues, key=lambda participant: self._served.get(participant, -1))  # stable
        lines = [list(self._queues[participant]) for participant in rotation]
        depth = max((len(line) for line in lines), default=0)
        for index in range(depth):
            for line in lines:
                if index < len(line):
                    yield line[index]

    def contains(self, waiter: Waiter) -> bool:
        queue = self._queues.get(waiter.participant)
        return queue is not None and waiter in queue

    def take(self, waiter: Waiter) -> bool:
        """Serve `waiter`: remove it and send its participant to the back of the rotation (False: it had left)."""
        if not self.remove(waiter):
            return False
        self._turns += 1
        self._served[waiter.participant] = self._turns
        return True
