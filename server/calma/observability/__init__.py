"""Observability: structured logs and Prometheus metrics. Owns no behaviour of its own."""
