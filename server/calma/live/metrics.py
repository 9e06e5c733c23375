"""Prometheus metrics of the control channel, in the node's one registry (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from calma.observability.metrics import REGISTRY

CONNECTIONS = Gauge("calma_live_connections", "Open /live control-channel connections.", registry=REGISTRY)
FRAMES = Counter(
    "calma_live_frames_total", "Frames received on /live, by client frame type.", ["type"], registry=REGISTRY
)
ERRORS = Counter("calma_live_errors_total", "Error frames sent on /live, by error code.", ["code"], registry=REGISTRY)
CLOSES = Counter(
    "calma_live_closes_total", "/live connections closed by the server, by close code.", ["code"], registry=REGISTRY
)
COMMANDS = Counter(
    "calma_live_commands_total",
    "Control commands carried out (changes durable), by command.",
    ["name"],
    registry=REGISTRY,
)
SESSIONS = Gauge("calma_live_sessions", "Live sessions with a loaded control document on this node.", registry=REGISTRY)
