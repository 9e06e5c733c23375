"""A flood on /live is refused frame by frame (`rate_limited`); persistent abuse is closed (4429); others unharmed."""

from __future__ import annotations

import anyio
import pytest
from websockets.exceptions import ConnectionClosed

from calma.live.rate_limit import FrameRateLimiter, RateLimits, Verdict
from tests.helpers.live_client import connect_live, live_url
from tests.helpers.live_study import LiveStudy, make_live_study
from tests.helpers.raw_client import frames_until_close
from tests.helpers.server import ServerProcess



@pytest.fixture
async def study(server: ServerProcess) -> LiveStudy:
    return await anyio.to_thread.run_sync(make_live_study, server)


def flooder_url(server: ServerProcess, study: LiveStudy) -> str:
    return live_url(server, token=study.tokens["ana"])


def bystander_url(server: ServerProcess, study: LiveStudy) -> str:
    return live_url(server, token=study.tokens["bo"])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_frames_are_refused_until_tokens_refill() -> None:
    clock = FakeClock()
    limiter = FrameRateLimiter(
        RateLimits(messages_per_second=10, burst=5, max_rate_limited=20, rate_limited_decay_per_second=5), clock
    )
    assert [limiter.check() for _ in range(5)] == [Verdict.ACCEPT] * 5
    assert limiter.check() is Verdict.REFUSE
    assert limiter.retry_after_ms() == 100
    clock.now += 0.1
    assert limiter.check() is Verdict.ACCEPT
    assert limiter.check() is Verdict.REFUSE


def test_persistent_abuse_closes_but_an_occasional_burst_does_not() -> None:
    clock = FakeClock()
    limiter = FrameRateLimiter(
        RateLimits(messages_per_second=10, burst=5, max_rate_limited=20, rate_limited_decay_per_second=5), clock
    )
    for _ in range(10):  # ten bursts of 15 frames, a minute apart: refused, never closed
        verdicts = [limiter.check() for _ in range(15)]
        assert Verdict.CLOSE not in verdicts and verdicts.count(Verdict.REFUSE) == 10
        clock.now += 60
    verdicts = [limiter.check() for _ in range(100)]  # one long flood
    assert verdicts[:5] == [Verdict.ACCEPT] * 5
    assert verdicts[5:25] == [Verdict.REFUSE] * 20
    assert verdicts[25] is Verdict.CLOSE


async def test_a_flood_is_refused_with_rate_limited_and_the_connection_recovers(
    server: ServerProcess, study: LiveStudy
) -> None:
    async with (
        connect_live(bystander_url(server, study)) as bystander,
        connect_live(flooder_url(server, study)) as flooder,
    ):
        burst = flooder.hello["limits"]["burst"]
        count = 2 * burst
        for index in range(count):
            await flooder.send({"type": "ping", "id": f"f{index}", "client_time": index})
        replies = [await flooder.recv() for _ in range(count)]
        pongs = [reply for reply in replies if reply["type"] == "pong"]
        refused = [reply for reply in replies if reply["type"] == "error"]
        assert len(pongs) + len(refused) == count
        assert len(pongs) >= burst and refused, (len(pongs), len(refused))
        assert [pong["id"] for pong in pongs[:burst]] == [f"f{index}" for index in range(burst)], (
            "the burst is served in order"
        )
        for error in refused:
            assert error["code"] == "rate_limited" and error["retry_after_ms"] > 0 and "id" not in error, error

        await bystander.ping()
        await anyio.sleep(refused[-1]["retry_after_ms"] / 1000)  # what the server asked for, not a synchronization
        await flooder.ping()


async def test_persistent_abuse_is_closed_with_4429_and_hurts_nobody(server: ServerProcess, study: LiveStudy) -> None:
    async with connect_live(bystander_url(server, study)) as bystander:
        async with connect_live(flooder_url(server, study)) as flooder:
            try:
                for index in range(500):
                    await flooder.send({"type": "ping", "client_time": index})
            except ConnectionClosed:
                pass  # the server may close before the flood is over
            await frames_until_close(flooder.websocket)
            assert flooder.websocket.close_code == 4429
            assert flooder.websocket.close_reason
        await bystander.ping()
    async with connect_live(flooder_url(server, study)) as again:  # limits are per connection
        await again.ping()
