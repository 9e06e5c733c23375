"""The Prometheus metrics of a hub node, in one registry served at /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

ROOMS = Gauge("calma_rooms_loaded", "Rooms loaded in memory on this node.", registry=REGISTRY)
CONNECTIONS = Gauge("calma_connections", "Open room websocket connections.", registry=REGISTRY)
UPDATES = Counter(
    "calma_updates_total", "Document updates persisted and broadcast (rate() gives updates/s).", registry=REGISTRY
)
UPDATES_DROPPED_READONLY = Counter(
    "calma_updates_dropped_readonly_total", "Document updates dropped from read-only connections.", registry=REGISTRY
)
MESSAGES_SENT = Counter("calma_messages_sent_total", "Frames sent to room connections.", registry=REGISTRY)
AWARENESS_RELAYS = Counter(
    "calma_awareness_relays_total", "Combined awareness messages relayed per room.", registry=REGISTRY
)
CLOSES = Counter("calma_connection_closes_total", "Connections closed by the hub, by close code.", ["code"], registry=REGISTRY)
PERSIST_SECONDS = Histogram(
    "calma_persist_seconds",
    "From an update's arrival at the group-commit queue to its durable commit.",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)
COMMIT_SECONDS = Histogram(
    "calma_commit_seconds",
    "Duration of one group-commit transaction.",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)
GROUP_COMMIT_BATCH = Histogram(
    "calma_group_commit_batch_size",
    "Updates per group-commit transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    registry=REGISTRY,
)
COMPACTIONS = Counter("calma_compactions_total", "Update logs folded into snapshots.", registry=REGISTRY)
CANVAS_PASSES = Counter(
    "calma_canvas_passes_total", "Placement passes on canvases (requests that arrive together share one).", registry=REGISTRY
)
CANVAS_CARDS_PLACED = Counter("calma_canvas_cards_placed_total", "Cards placed on canvases.", registry=REGISTRY)
CANVAS_REFITS = Counter("calma_canvas_refits_total", "Canvas layouts fitted again and aligned to the old.", registry=REGISTRY)
CANVAS_PLACE_SECONDS = Histogram(
    "calma_canvas_place_seconds", "One placement pass: embedding, fitting and the durable board update.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=REGISTRY,
)


def render() -> bytes:
    """The registry in Prometheus text format."""
    return generate_latest(REGISTRY)
