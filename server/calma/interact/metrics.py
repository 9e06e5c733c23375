"""Prometheus metrics of Interact, in the node's one registry (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from calma.observability.metrics import REGISTRY

REPLIES = Counter(
    "calma_interact_replies_total", "Replies ended, by model and status.", ["model", "status"], registry=REGISTRY
)
IN_FLIGHT = Gauge("calma_interact_replies_in_flight", "Replies queued or streaming on this node.", registry=REGISTRY)
QUEUE_WAIT = Histogram(
    "calma_interact_queue_wait_seconds", "Time a reply waited for a slot on its model.", ["model"], registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
TIME_TO_FIRST_TOKEN = Histogram(
    "calma_interact_time_to_first_token_seconds", "From the model starting on a reply to its first text.", ["model"],
    registry=REGISTRY, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
TOKENS = Counter("calma_interact_tokens_total", "Text pieces streamed, by model.", ["model"], registry=REGISTRY)
