"""Over HTTP: the ADO emulator delivers "Run job state changed" to `serve`'s hook receiver on 127.0.0.1,
which starts the pool's pass on the serve loop; ECS in moto. And every rejection: logged, no pass, no
launch."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import PoolReport, Reconciler, serve_loop
from adoscale.hooks import HookValidator
from adoscale.hooks.server import HookServer, PendingPools
from adoscale.hooks.subscriptions import adoscale_subscriptions, subscription_body
from adoscale.lease import MemoryLease
from adoscale_lab.emulator import AdoModel, Faults, make_app, serve
from tests.aws import config_for, ecs_world
from tests.conftest import ORG, PAT
from tests.hooks.payloads import SECRET, basic, body, job_event

HOOK_TO_TASK_BOUND_S = 2.0


@dataclass
class Loop:
    """`serve_loop` on a thread, with what it reported."""

    reconciler: Reconciler
    pending: PendingPools
    stop: threading.Event = field(default_factory=threading.Event)
    reports: list[PoolReport] = field(default_factory=list)
    reported_at: list[float] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    thread: threading.Thread | None = None

    def on_report(self, report: PoolReport) -> None:
        with self.changed:
            self.reports.append(report)
            self.reported_at.append(time.monotonic())
            self.changed.notify_all()

    def start(self) -> None:
        self.thread = threading.Thread(
            target=serve_loop,
            kwargs={
                "reconciler": self.reconciler,
                "interval": 3600.0,  # the schedule never comes round by itself in a test: we play it
                "stop": self.stop,
                "pending": self.pending,
                "on_report": self.on_report,
            },
            daemon=True,
        )
        self.thread.start()

    def wait_reports(self, count: int, timeout: float = 10.0) -> list[PoolReport]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.reports) >= count, timeout), self.reports
            return list(self.reports)

    def close(self) -> None:
        self.stop.set()
        self.pending.wake()
        if self.thread is not None:
            self.thread.join(timeout=10)
            assert not self.thread.is_alive()


@dataclass
class World:
    model: AdoModel
    app: Any
    ado: AdoClient
    loop: Loop
    hooks: HookServer
    pool_id: int
    run_tasks: list[float]  # time.monotonic() of each RunTask call
    compute: EcsCompute

    def live_tasks(self) -> list[Any]:
        return [t for t in self.compute.list_tasks("linux") if t.last_status != "STOPPED"]


@pytest.fixture
def world(model: AdoModel, faults: Faults) -> Iterator[World]:
    app = make_app(model, faults)
    with serve(app, port=0) as ado_server, ecs_world() as (ecs, resources):
        org_url = f"{ado_server.url}/{ORG}"
        run_tasks: list[float] = []
        ecs.meta.events.register("provide-client-params.ecs.RunTask", lambda **_: run_tasks.append(time.monotonic()))
        config = config_for(resources, org_url, [{"name": "linux", "max_agents": 5}])
        clock = lambda: datetime.now(UTC)  # noqa: E731 - the hook's createdDate is real time too
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        pool_id = model.create_pool("linux")
        model.register_agent(pool_id, "adoscale-placeholder", online=False)
        pending = PendingPools()
        with AdoClient(org_url, PAT) as ado, HookServer(HookValidator(SECRET, ["linux"]), pending.request) as hooks:
            reconciler = Reconciler(config, ado, compute, clock, lease=MemoryLease(clock))
            loop = Loop(reconciler, pending)
            loop.start()
            try:
                assert loop.wait_reports(1)[0].launched == 0  # the first scheduled pass: nothing queued yet
                yield World(model, app, ado, loop, hooks, pool_id, run_tasks, compute)
            finally:
                loop.close()


def test_a_queued_job_starts_a_task_within_2s_through_the_hook_and_the_schedule_launches_nothing_more(
    world: World,
) -> None:
    created = world.ado.create_subscription(subscription_body(world.hooks.url, "linux", SECRET, None))
    assert [s.pool for s in adoscale_subscriptions(world.ado.list_subscriptions())] == ["linux"]
    assert created["consumerInputs"]["basicAuthPassword"] != SECRET  # the service masks it

    queued_at = time.monotonic()
    world.model.queue_job(world.pool_id)
    reports = world.loop.wait_reports(2)
    assert world.run_tasks, "no RunTask"
    to_run_task = world.run_tasks[0] - queued_at
    elapsed = world.loop.reported_at[1] - queued_at  # RunTask has answered: the task exists
    print(f"\njob queued -> RunTask sent {to_run_task * 1000:.0f} ms, pass done {elapsed * 1000:.0f} ms")
    assert reports[1].launched == 1 and elapsed < HOOK_TO_TASK_BOUND_S
    assert len(world.live_tasks()) == 1

    assert world.app.hooks.wait_idle(5)
    assert [d.status for d in world.app.hooks.deliveries] == [202]

    # The next scheduled pass (the backstop) sees the task starting and launches nothing.
    world.loop.close()
    scheduled = world.loop.reconciler.run().pools[0]
    assert (scheduled.queued, scheduled.starting, scheduled.launched) == (1, 1, 0)
    assert len(world.run_tasks) == 1 and len(world.live_tasks()) == 1


def _post(url: str, payload: bytes, headers: dict[str, str], pool: str = "linux") -> httpx.Response:
    return httpx.post(url, params={"pool": pool}, content=payload, headers=headers, timeout=5)


def _declare_10mb(port: int) -> tuple[bytes, float]:
    """Send only the head of a 10 MB POST: the answer must come without the body ever being sent."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        head = (
            "POST /?pool=linux HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: {basic(SECRET)['authorization']}\r\nContent-Length: {10 * 1024 * 1024}\r\n\r\n"
        )
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def test_forged_unknown_oversized_and_replayed_hooks_are_logged_and_do_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adoscale.hooks")
    world.model.queue_job(world.pool_id)  # a pass would launch for it: so any pass would show
    url = world.hooks.url
    event = job_event()

    forged = _post(url, body(event), basic("forged-secret-0123456789"))
    unknown = _post(url, body(job_event()), basic(SECRET), pool="windows")
    oversized, oversized_s = _declare_10mb(world.hooks.port)
    assert forged.status_code == 401 and json.loads(forged.text)["reason"] == "wrong hook secret"
    assert unknown.status_code == 400 and "unknown pool" in unknown.text
    assert oversized.startswith(b"HTTP/1.1 413") and oversized_s < 1.0
    reasons = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("wrong hook secret" in r for r in reasons)
    assert any("unknown pool" in r for r in reasons)
    assert any("over the" in r and "413" in r for r in reasons)
    assert world.loop.pending.requested == 0 and len(world.loop.reports) == 1 and world.run_tasks == []

    # The control: the same event, authentic, does start a pass and a launch ...
    accepted = _post(url, body(event), basic(SECRET))
    assert accepted.status_code == 202
    assert world.loop.wait_reports(2)[1].launched == 1
    # ... and delivered again it is refused as a replay: no pass, no launch.
    replayed = _post(url, body(event), basic(SECRET))
    assert replayed.status_code == 400 and "replayed" in replayed.text
    assert any("replayed" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert world.loop.pending.requested == 1 and len(world.loop.reports) == 2 and len(world.run_tasks) == 1
    secrets_logged = [r for r in caplog.records if SECRET in r.getMessage()]
    assert secrets_logged == []


def test_hooks_during_a_pass_coalesce_into_one_follow_up_pass() -> None:
    pending = PendingPools()
    for _ in range(5):
        pending.request("linux")
    pending.request("gpu")
    assert pending.wait(0) == {"linux", "gpu"}
    assert pending.wait(0) == set()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_with_hooks_port_launches_on_a_hook_and_stops_on_sigterm(
    model: AdoModel, org_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real `adoscale serve --hooks-port` command, in this process so that moto serves its ECS calls."""
    import os
    import signal

    from typer.testing import CliRunner

    from adoscale.cli import app
    from adoscale.cli.commands import register

    register()
    port = _free_port()
    pool_id = model.create_pool("linux")
    model.register_agent(pool_id, "adoscale-placeholder", online=False)
    monkeypatch.setenv("AZP_TOKEN", PAT)
    monkeypatch.setenv("ADOSCALE_HOOK_SECRET", SECRET)
    with ecs_world() as (ecs, resources):
        config = tmp_path / "adoscale.json"
        config.write_text(config_for(resources, org_url, [{"name": "linux", "max_agents": 5}]).model_dump_json())
        outcome: dict[str, Any] = {}

        def drive() -> None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # until serve listens (a bounded wait, not a sleep)
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            model.queue_job(pool_id)
            outcome["status"] = _post(f"http://127.0.0.1:{port}/", body(job_event()), basic(SECRET)).status_code
            while time.monotonic() < deadline and not ecs.list_tasks(cluster=resources.cluster)["taskArns"]:
                time.sleep(0.05)
            outcome["tasks"] = len(ecs.list_tasks(cluster=resources.cluster)["taskArns"])
            outcome["signalled"] = time.monotonic()
            os.kill(os.getpid(), signal.SIGTERM)

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        args = ["serve", "-c", str(config), "--interval", "3600", "--hooks-port", str(port)]
        result = CliRunner().invoke(app, args)
        stopped_s = time.monotonic() - outcome["signalled"]
        driver.join(timeout=5)
    print(f"\nserve stopped {stopped_s * 1000:.0f} ms after SIGTERM")
    assert result.exit_code == 0, result.output
    assert outcome["status"] == 202 and outcome["tasks"] == 1
    assert stopped_s < 5.0
    with pytest.raises(ConnectionRefusedError):  # the hook port is closed with serve
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_a_client_that_stalls_mid_body_is_cut_off_without_a_pass(caplog: pytest.LogCaptureFixture) -> None:
    pending = PendingPools()
    with HookServer(HookValidator(SECRET, ["linux"]), pending.request, read_timeout_s=0.3) as hooks:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", hooks.port), timeout=5) as sock:
            sock.sendall(b"POST /?pool=linux HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
            assert sock.recv(4096) == b""  # closed, nothing answered
        waited = time.monotonic() - started
    assert waited < 3 and hooks.rejected == 1 and pending.requested == 0
    assert any("hook dropped" in r.getMessage() for r in caplog.records)
