"""The store of record: room update logs and snapshots, and the study records.

Owns durable state and its schema migrations. Knows nothing of websockets,
rooms in memory or Yjs semantics: it stores opaque update bytes in order.
Two backends: SQLite (`sqlite.py`, the embedded default) and PostgreSQL
(`postgres.py`, for many nodes), chosen by URL in `factory.py`. The study
records' interface and model belong to `calma.studies`; their SQL lives here,
written once for both backends (`studies_sql.py` over `sql.py`).
"""

from calma.store.base import RoomRecord, Store, StoreError
from calma.store.circuit import StoreUnavailable
from calma.store.group_commit import GroupCommit

__all__ = ["GroupCommit", "RoomRecord", "Store", "StoreError", "StoreUnavailable"]
