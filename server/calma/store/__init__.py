"""The store of record: room update logs and snapshots, and the study records.

Owns durable state and its schema migrations. Knows nothing of websockets,
rooms in memory or Yjs semantics: it stores opaque update bytes in order.
The study records' interface and model belong to `calma.studies`; their SQL
lives here with the rest (`studies_sqlite.py`).
"""

from calma.store.base import RoomRecord, Store, StoreError
from calma.store.group_commit import GroupCommit

__all__ = ["GroupCommit", "RoomRecord", "Store", "StoreError"]
