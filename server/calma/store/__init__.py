"""The store of record: room update logs and snapshots.

Owns durable state and its schema migrations. Knows nothing of websockets,
rooms in memory or Yjs semantics: it stores opaque update bytes in order.
"""

from calma.store.base import RoomRecord, Store, StoreError
from calma.store.group_commit import GroupCommit

__all__ = ["GroupCommit", "RoomRecord", "Store", "StoreError"]
