"""Over HTTP: the ADO emulator delivers "Run job state changed" to `serve`'s hook receiver on 127.0.0.1,
which starts the pool's pass on the serve loop; ECS in moto. And every rejection: logged, no pass, no
launch."""

from __future__ import annotations

import itertools
import json
import logging
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    headers = {"content-type": "application/json; charset=utf-8", **headers}  # as the service sends it
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


def test_forged_oversized_unknown_late_and_replayed_hooks_are_answered_as_the_service_needs_and_do_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adoscale.hooks")
    world.model.queue_job(world.pool_id)  # a pass would launch for it: so any pass would show
    url = world.hooks.url
    event = job_event()

    forged = _post(url, body(event), basic("forged-secret-0123456789"))
    # Authenticated but for no configured pool, or 20 minutes late (a re-send after a failure): 2xx, so that
    # the service does not put the subscription on probation (issue 21 item 3), and no pass.
    unknown = _post(url, body(job_event()), basic(SECRET), pool="windows")
    late = _post(url, body(job_event(created=datetime.now(UTC) - timedelta(minutes=20))), basic(SECRET))
    oversized, oversized_s = _declare_10mb(world.hooks.port)
    assert forged.status_code == 401 and json.loads(forged.text)["reason"] == "wrong hook secret"
    assert unknown.status_code == 202 and json.loads(unknown.text)["status"] == "ignored"
    assert late.status_code == 202 and json.loads(late.text)["status"] == "ignored"
    assert oversized.startswith(b"HTTP/1.1 413") and oversized_s < 1.0
    reasons = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("wrong hook secret" in r for r in reasons)
    assert any("over the" in r and "413" in r for r in reasons)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("not configured" in r for r in infos) and any("stale" in r for r in infos)
    assert world.loop.pending.requested == 0 and len(world.loop.reports) == 1 and world.run_tasks == []

    # The control: the same event, authentic, does start a pass and a launch ...
    accepted = _post(url, body(event), basic(SECRET))
    assert accepted.status_code == 202
    assert world.loop.wait_reports(2)[1].launched == 1
    # ... and delivered again it is acknowledged as a replay (2xx): no pass, no launch.
    replayed = _post(url, body(event), basic(SECRET))
    assert replayed.status_code == 202 and json.loads(replayed.text)["status"] == "ignored"
    assert any("replayed" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
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
            head = b"POST /?pool=linux HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000"
            sock.sendall(head + b"\r\n\r\n{")
            assert sock.recv(4096) == b""  # closed, nothing answered
        waited = time.monotonic() - started
    assert waited < 3 and hooks.rejected == 1 and pending.requested == 0
    assert any("hook dropped" in r.getMessage() for r in caplog.records)


def _valid_post(port: int, event: dict[str, Any], content_type: str = "application/json") -> bytes:
    data = body(event)
    head = (
        f"POST /?pool=linux HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Authorization: {basic(SECRET)['authorization']}\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode() + data)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer


def test_only_json_is_read_other_content_types_are_415_without_a_pass() -> None:
    """Issue 22: any Content-Type was accepted."""
    pending = PendingPools()
    with HookServer(HookValidator(SECRET, ["linux"]), pending.request) as hooks:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx"):
            assert _valid_post(hooks.port, job_event(), content_type).startswith(b"HTTP/1.1 415")
        assert _valid_post(hooks.port, job_event(), "Application/JSON; charset=utf-8").startswith(b"HTTP/1.1 202")
    assert pending.requested == 1


def test_a_client_that_dribbles_its_headers_is_cut_at_the_deadline() -> None:
    """Issue 22: slow clients each held a listener thread (242 of 300 still held at 30 s). A byte every 0.2 s
    never trips the per-read timeout; the connection's deadline ends it."""
    pending = PendingPools()
    with HookServer(HookValidator(SECRET, ["linux"]), pending.request, read_timeout_s=1.0, deadline_s=1.0) as hooks:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", hooks.port), timeout=5) as sock:
            closed = False
            for byte in b"POST /?pool=linux HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                ready, _, _ = select.select([sock], [], [], 0.2)
                if ready and sock.recv(4096) == b"":
                    closed = True
                    break
        held = time.monotonic() - started
    assert closed and held < 3.0, held
    assert pending.requested == 0


def test_connections_over_the_thread_cap_are_answered_503_at_once(caplog: pytest.LogCaptureFixture) -> None:
    pending = PendingPools()
    with HookServer(HookValidator(SECRET, ["linux"]), pending.request, max_threads=2, deadline_s=5.0) as hooks:
        idle = [socket.create_connection(("127.0.0.1", hooks.port), timeout=5) for _ in range(2)]
        try:
            deadline = time.monotonic() + 5
            answer = b""
            while time.monotonic() < deadline:  # the two idle connections take their threads asynchronously
                answer = _valid_post(hooks.port, job_event())
                if answer.startswith(b"HTTP/1.1 503"):
                    break
            assert answer.startswith(b"HTTP/1.1 503") and hooks.busy >= 1
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + 5
        while not (answer := _valid_post(hooks.port, job_event())).startswith(b"HTTP/1.1 202"):
            assert time.monotonic() < deadline, answer  # the slots come back when the idle clients leave
    assert pending.requested == 1


def test_a_client_that_goes_away_costs_one_log_line_and_no_traceback(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    pending = PendingPools()
    with HookServer(HookValidator(SECRET, ["linux"]), pending.request) as hooks:
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", hooks.port), timeout=5)
            # A reset (RST) mid-headers, as a client that crashes does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(b"POST /?pool=linux HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: app")
            sock.close()
        assert _valid_post(hooks.port, job_event()).startswith(b"HTTP/1.1 202")  # still serving
    assert "Traceback" not in capsys.readouterr().err
    assert not any(r.exc_info for r in caplog.records)


def test_a_flood_of_hooks_for_one_pool_is_a_handful_of_passes() -> None:
    """Issue 22: 1,000 hooks became 554 passes in serve. Hooks for a pool hand out one pass, then at most one
    per `min_gap_s` while they keep coming; a loop that takes what is due and runs one pass at a time."""
    pending = PendingPools(min_gap_s=1.0)
    passes: list[float] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            for _pool in pending.wait(0.5):
                passes.append(time.monotonic())  # the pass itself: only the hand-out is under test

    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    with HookServer(HookValidator(SECRET, ["linux"]), pending.request) as hooks:
        started = time.monotonic()
        with httpx.Client(timeout=5) as http:

            def send(n: int) -> int:
                return sum(_post_with(http, hooks.url, body(job_event())).status_code == 202 for _ in range(n))

            threads = [threading.Thread(target=send, args=(125,)) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        flood_s = time.monotonic() - started
    deadline = time.monotonic() + 5
    while pending.waiting and time.monotonic() < deadline:
        time.sleep(0.05)  # polling: the last coalesced pass is due up to min_gap_s after the flood
    stop.set()
    pending.wake()
    worker.join(timeout=5)
    print(f"\n1000 hooks in {flood_s:.2f} s -> {len(passes)} passes")
    assert pending.requested == 1000 and not pending.waiting
    assert 1 <= len(passes) <= flood_s / 1.0 + 2
    assert all(b - a >= 0.99 for a, b in itertools.pairwise(passes))


def _post_with(http: httpx.Client, url: str, payload: bytes) -> httpx.Response:
    headers = {"content-type": "application/json", **basic(SECRET)}
    return http.post(url, params={"pool": "linux"}, content=payload, headers=headers)
