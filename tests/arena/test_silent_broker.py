"""A Redis broker that takes connections and never answers (its host died, a partition cut it off)
must fail the scheduler's calls, as an outage it backs off from, instead of blocking them for ever."""

from __future__ import annotations

import threading
import time

from arena import worker
from arena.db.outage import is_broker_outage
from arena.settings import Settings
from tests.support.silent_server import silent_port  # noqa: F401 -- a fixture


def _within(seconds: float, call) -> BaseException | str:
    """What `call()` raised, or "returned", or "blocked" if it was still waiting after `seconds`."""
    outcome: list = []

    def run() -> None:
        try:
            call()
            outcome.append("returned")
        except BaseException as error:  # noqa: BLE001 -- the error is the result
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return outcome[0] if outcome else "blocked"


def test_redis_connections_carry_network_timeouts() -> None:
    options = worker.broker_options(Settings(broker_url="redis://broker:6379/0"))
    assert {k: options[k] for k in worker.REDIS_NETWORK_TIMEOUTS} == worker.REDIS_NETWORK_TIMEOUTS
    assert options["socket_timeout"] > 1  # above kombu's BRPOP poll, or idle consumers would time out


def _counting_and_sending_fail_as_an_outage(url: str, *, within_s: float) -> None:
    """Counting the queue and sending a block through the broker at `url` each fail, as an
    outage, and both together within `within_s`."""
    app = worker.make_celery(Settings(broker_url=url))
    started = time.monotonic()
    counted = _within(within_s, lambda: worker.queued_blocks(app))
    sent = _within(within_s, lambda: worker.enqueue(app, {"tournament_id": 1}))
    assert isinstance(counted, BaseException) and is_broker_outage(counted), counted
    assert isinstance(sent, BaseException) and is_broker_outage(sent), sent
    assert time.monotonic() - started < within_s


def test_counting_and_sending_to_a_silent_broker_fail_as_an_outage(silent_port, monkeypatch) -> None:  # noqa: F811
    # The production timeouts (30 s reads) scaled down so the test takes seconds.
    monkeypatch.setattr(worker, "REDIS_NETWORK_TIMEOUTS",
                        {"socket_connect_timeout": 1, "socket_timeout": 1.5, "socket_keepalive": True})
    _counting_and_sending_fail_as_an_outage(f"redis://127.0.0.1:{silent_port}/0", within_s=20)


def test_a_silent_rabbitmq_fails_counting_and_sending_as_an_outage(silent_port) -> None:  # noqa: F811
    """RabbitMQ's client waits for the broker's handshake no longer than its connect timeout
    (kombu's 4 s), and keeps TCP keepalives on its sockets: no setting of ours is needed, and this
    keeps it so."""
    _counting_and_sending_fail_as_an_outage(f"amqp://guest:guest@127.0.0.1:{silent_port}//", within_s=30)
