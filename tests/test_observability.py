"""Health and metrics endpoints tell an operator what the node is doing, and /metrics tells no one else."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers.server import ServerProcess
from tests.helpers.ydoc_client import add_label, connect_doc, label_texts


async def test_healthz_and_metrics_report_rooms_connections_and_commits(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        health = await http.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"

        async with connect_doc(server.room_url("metered")) as one, connect_doc(server.room_url("metered")) as two:
            for index in range(5):
                add_label(one.doc, f"m{index}")
            await two.wait_for(lambda doc: len(label_texts(doc)) == 5)
            text = (await http.get("/metrics")).text

    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples["calma_rooms_loaded"] == 1
    assert samples["calma_connections"] == 2
    assert samples["calma_updates_total"] >= 5
    assert samples["calma_group_commit_batch_size_count"] >= 1
    assert samples["calma_persist_seconds_count"] >= 5
    assert "calma_commit_seconds_bucket{le=\"0.01\"}" in text


async def test_unknown_paths_are_404(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get("/no/such/page")).status_code == 404


# uvicorn takes the client's address from X-Forwarded-For when the connection comes from 127.0.0.1 (a
# reverse proxy on this host): that is how these tests are a client from elsewhere.
FROM_ELSEWHERE = {"X-Forwarded-For": "203.0.113.9"}


async def test_metrics_are_for_loopback_clients_only_by_default(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get("/metrics")).status_code == 200, "an operator on the host reads them"
        outsider = await http.get("/metrics", headers=FROM_ELSEWHERE)
        assert outsider.status_code == 403 and "calma_" not in outsider.text
        guessing = await http.get("/metrics", headers={**FROM_ELSEWHERE, "Authorization": "Bearer anything-at-all-1234"})
        assert guessing.status_code == 403 and "calma_" not in guessing.text, "no token configured: no token works"


async def test_a_metrics_token_lets_a_remote_scraper_in_and_nobody_else(tmp_path: Path) -> None:
    token_file = tmp_path / "metrics.token"
    token_file.write_text("scraper-secret-0123456789\n")
    node = ServerProcess(tmp_path / "data", extra_args=["--metrics-token-file", str(token_file)])
    node.start()
    try:
        async with httpx.AsyncClient(base_url=node.http_url) as http:
            scraper = await http.get("/metrics", headers={**FROM_ELSEWHERE, "Authorization": "Bearer scraper-secret-0123456789"})
            assert scraper.status_code == 200 and "calma_connections" in scraper.text
            for headers in ({}, {"Authorization": "Bearer scraper-secret-012345678"}, {"Authorization": "Basic c2NyYXBlcg=="},
                            {"Authorization": "Bearer " + "x" * 10_000}):
                refused = await http.get("/metrics", headers={**FROM_ELSEWHERE, **headers})
                assert refused.status_code == 401 and "calma_" not in refused.text, headers
                assert refused.headers["www-authenticate"].startswith("Bearer")
            assert (await http.get("/metrics")).status_code == 200, "loopback still needs no token"
    finally:
        node.stop()


def test_a_short_metrics_token_is_refused_at_start(tmp_path: Path) -> None:
    token_file = tmp_path / "metrics.token"
    token_file.write_text("short\n")
    node = ServerProcess(tmp_path / "data", extra_args=["--metrics-token-file", str(token_file)])
    try:
        node.start(timeout=20)
    except RuntimeError as exc:
        assert "the metrics token needs at least 16 characters" in str(exc)
    else:
        node.stop()
        raise AssertionError("the server started with a 5-character metrics token")
