"""Every AWS call of a pass is bounded by what the lease leaves after the pass's deadline (issue 22 item 2): a
RunTask or ListTasks that hangs ends in time, retries included, instead of carrying the pass past its lease
(a stalled ListTasks pass took 123 s with botocore's defaults)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

from adoscale.bootstrap import bounded_client, call_budget
from adoscale.control import PassLimits
from adoscale.handlers import _runtime


def test_the_budget_fits_the_default_pass_and_lease() -> None:
    limits = PassLimits()
    budget = call_budget(limits)
    worst = budget.attempts * (budget.connect_s + budget.read_s)
    assert worst <= limits.lease_ttl_s - limits.deadline_s - 5  # room for the back-off between tries
    for client in (bounded_client("ecs"), _runtime.client("dynamodb")):
        config = client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (budget.connect_s, budget.read_s)
        assert config.retries["total_max_attempts"] == budget.attempts


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An endpoint on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def test_a_call_to_a_silent_ecs_ends_within_the_budget(silent_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", silent_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    limits = PassLimits(deadline_s=2.0, lease_ttl_s=12.0)
    budget = call_budget(limits)
    ecs = bounded_client("ecs", limits)
    started = time.monotonic()
    with pytest.raises((ReadTimeoutError, ConnectTimeoutError)):
        ecs.list_tasks(cluster="agents")
    elapsed = time.monotonic() - started
    print(f"\nsilent ECS: gave up after {elapsed:.1f} s ({budget.attempts} x {budget.read_s:.1f} s read timeout)")
    assert elapsed < limits.lease_ttl_s - limits.deadline_s
