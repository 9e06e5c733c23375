"""Secrets never reach the logs (issue 15, item 11).

The attack: anyone who can read a server's logs (an operator's log shipper, a
shared terminal, a support ticket with a pasted log) used to find working
credentials in them: uvicorn logs every websocket handshake with its query
string, so `/live?token=...` and `/rooms/...?token=...` put participants' and
facilitators' tokens in the log, for as long as the token lives.

Story: Lena runs a study. An operator mints her a facilitator token with
`calma admin token` and a participant token for Ravi; Lena uses hers on the API
(`Authorization: Bearer`), on a room and on /live; Ravi uses his on /live; an
invite link is previewed (`GET /api/join?token=`); Mallory tries a forged token
and a cookie. Then we read everything the server wrote and look for each secret.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect

from calma.access.sessions import SESSION_COOKIE
from calma.observability.logs import REDACTED, JsonFormatter, redact
from tests.helpers.admin import admin_token
from tests.helpers.api_client import Person
from tests.helpers.lead import server_with_lead, sign_in_lead
from tests.helpers.live_client import connect_live, live_url
from tests.helpers.raw_client import frames_until_close
from tests.helpers.server import ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with server_with_lead(tmp_path / "data") as node:
        yield node


def secrets_in(log: str, secrets: dict[str, str]) -> dict[str, list[str]]:
    """For each secret found in `log` (whole, or its signature alone), the lines that hold it."""
    found: dict[str, list[str]] = {}
    for name, secret in secrets.items():
        needles = {secret, secret.rsplit(".", 1)[-1]} if secret.startswith("c1.") else {secret}
        lines = [line for line in log.splitlines() if any(needle in line for needle in needles)]
        if lines:
            found[name] = lines
    return found


async def test_no_token_or_cookie_used_on_the_api_rooms_or_live_appears_in_the_log(server: ServerProcess) -> None:
    lena = sign_in_lead(server)
    study = lena.ok("POST", "/api/studies", {"template": "pilot"}, status=201)["id"]
    group = lena.ok("POST", f"/api/studies/{study}/groups", {"name": "Online"}, status=201)
    facilitator_token = admin_token(server.data_dir, study=study, role="facilitator")  # `calma admin token`
    ravis_token = admin_token(server.data_dir, study=study, group=group["id"], role="participant", name="Ravi")
    invite = lena.ok("POST", f"/api/studies/{study}/invites", {"group_id": group["id"], "role": "participant"},
                     status=201)["token"]  # fmt: skip
    forged = facilitator_token[:-4] + ("AAAA" if not facilitator_token.endswith("AAAA") else "BBBB")
    assert lena.session is not None
    secrets = {"facilitator token": facilitator_token, "participant token": ravis_token, "invite": invite,
               "forged token": forged, "session cookie": lena.session}  # fmt: skip

    # On the API: a bearer token, an invite link's preview (a token in the URL), a bad bearer.
    script = Person(server, "script").with_token(facilitator_token)
    assert script.me["role"] == "facilitator"
    assert httpx.get(f"{server.http_url}/api/join", params={"token": invite}).status_code == 200
    assert httpx.get(f"{server.http_url}/api/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401

    # On a room (its query string is logged with every handshake) and on /live, as facilitator and participant.
    async with connect(server.room_url(group["control_room"]) + f"?token={facilitator_token}&observe=1") as room:
        with anyio.fail_after(10):
            await room.recv()
    async with connect_live(live_url(server, token=facilitator_token)) as lead:
        await lead.ping()
    async with connect_live(live_url(server, token=ravis_token)) as ravi:
        await ravi.ping()
    async with connect_live(live_url(server), lena.cookie_headers) as by_cookie:
        await by_cookie.ping()
    async with connect(live_url(server, token=forged)) as mallory:  # refused: 4401, but the handshake is logged
        await frames_until_close(mallory)
        assert mallory.close_code == 4401

    await anyio.to_thread.run_sync(server.stop)  # everything written and flushed
    log = server.log()
    assert secrets_in(log, secrets) == {}
    assert "WebSocket /live?token=" + REDACTED in log, "the handshakes were logged, with the token redacted"


def test_every_shape_of_secret_is_redacted_whatever_logger_writes_it() -> None:
    """The formatter every log line goes through: messages, arguments, extra fields and tracebacks."""
    token = "c1.0123456789abcdef.1999999999." + "S" * 43
    cookie = "k3Jd9_x-" * 5
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.security.logs")
    access = logging.getLogger("uvicorn.access")  # as if an operator turned the access log on
    level = access.level
    for one in (logger, access):
        one.addHandler(handler)
        one.propagate = False
        one.setLevel(logging.INFO)
    try:
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/api/join?token={token}", "1.1", 200)
        logger.warning("headers: Authorization: Bearer %s; Cookie: %s=%s", token, SESSION_COOKIE, cookie)
        logger.info("request", extra={"url": f"ws://host/rooms/x?observe=1&token={token}",
                                      "headers": {"authorization": f"Bearer {token}"},
                                      "body": {"token": "my-invite", "display_name": "Ravi"}})  # fmt: skip
        try:
            raise ValueError(f"could not use {token} from postgresql://calma:hunter2@db/calma")
        except ValueError:
            logger.exception("failed")
    finally:
        for one in (logger, access):
            one.removeHandler(handler)
            one.propagate = True
        access.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    text = stream.getvalue()
    for secret in (token, "S" * 43, cookie, "my-invite", "hunter2"):
        assert secret not in text, secret
    assert lines[0]["msg"] == f'127.0.0.1:5 - "GET /api/join?token={REDACTED} HTTP/1.1" 200'
    assert "Ravi" in lines[2]["body"], "what is not a secret stays readable"
    assert redact("room study-0123456789abcdef.group-0123456789abcdef.control") == (
        "room study-0123456789abcdef.group-0123456789abcdef.control"
    )
