"""`calma cluster`: Redis, N hub nodes and a room-hashing router on one machine, for demos and tests.

`supervisor` starts and stops the processes; `router` is the websocket-aware
reverse proxy in front of the nodes. Production deployments use `deploy/`
(a standard load balancer) instead.
"""
