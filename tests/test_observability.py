"""Health and metrics endpoints tell an operator what the node is doing."""

from __future__ import annotations

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
