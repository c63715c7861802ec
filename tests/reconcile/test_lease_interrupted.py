"""The lease is given back whatever point a signal interrupts the pass at (issue 19).

`adoscale serve` stops a pass by raising an exception from its signal handler, in the main thread, between
two lines of whatever the pass is doing: the lease's own calls included. Here the interruption is injected
at every point in turn: a trace function raises it at the N-th line the pass executes in adoscale's code
(or in the fake ports standing in for Azure DevOps and ECS), and a wrapper around the DynamoDB client raises
it right after the N-th request came back (the write is done, the caller never hears of it: the window
between a successful conditional write and `acquire` returning). N goes 1, 2, 3 ... until a pass completes
without meeting it. After every interrupted pass the lease table must hold no lease of ours, and a lease
another pass holds must still be there.

Python unsets a trace function that raises, so each pass is interrupted exactly once, as one SIGTERM does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import boto3
import pytest
from moto import mock_aws

import adoscale
from adoscale.ado.models import Agent, JobRequest, ParallelLimit, Pool
from adoscale.compute.base import LaunchResult, TaskInfo
from adoscale.config import Config, parse_config
from adoscale.control import Reconciler
from adoscale.lease import DynamoLease, Lease, MemoryLease
from tests.aws import create_lease_table
from tests.clock import Clock

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(hours=2)
TABLE = "adoscale-leases"
POOL_ID = 7
PREFIX = "ado-"
ADOSCALE_SOURCES = Path(adoscale.__file__).resolve().parent
THIS_FILE = str(Path(__file__).resolve())
LEASE_SOURCES = ADOSCALE_SOURCES / "lease"
RECONCILE_SOURCE = str(ADOSCALE_SOURCES / "reconcile.py")
MEMORY_LEASE_SOURCE = str(LEASE_SOURCES / "memory.py")


class SignalArrivedError(BaseException):
    """What `serve`'s signal handler raises: not an `Exception`, so no `except Exception` stops it."""


def _config() -> Config:
    ecs = {
        "cluster": "agents",
        "task_definition": "agent",
        "container_name": "agent",
        "subnets": ["subnet-1"],
        "security_groups": ["sg-1"],
    }
    pool = {
        "name": "linux",
        "max_agents": 10,
        "idle_timeout_seconds": 300,
        "startup_timeout_seconds": 600,
        "agent_name_prefix": PREFIX,
        "placeholder_name": "adoscale-placeholder",
        "ecs": ecs,
    }
    return parse_config(json.dumps({"organization_url": "https://dev.azure.com/acme", "pools": [pool]}))


CONFIG = _config()


@dataclass
class World:
    """Azure DevOps and ECS for one pool, in memory: the pass acts on every kind of thing it can."""

    scenario: str
    agents: dict[int, Agent] = field(default_factory=dict)
    tasks: dict[str, TaskInfo] = field(default_factory=dict)
    jobs: list[JobRequest] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._agent(1, "adoscale-placeholder", online=False)
        if self.scenario == "launch":
            # Two queued jobs (launch), a task whose agent never came (stopped), a dead registration (deleted).
            self.jobs = [JobRequest(request_id=n, queue_time=NOW - timedelta(seconds=30)) for n in (11, 12)]
            self._task("stalled", created_at=LONG_AGO)
            self._agent(2, PREFIX + "gone", online=False)
        else:
            # An idle agent past its idle timeout on a running task: drained (disable, re-read, stop).
            self._task("idle", created_at=LONG_AGO)
            self._agent(3, PREFIX + "idle", online=True)

    def _agent(self, agent_id: int, name: str, *, online: bool) -> None:
        self.agents[agent_id] = Agent(
            id=agent_id,
            name=name,
            status="online" if online else "offline",
            enabled=True,
            status_changed_on=LONG_AGO,
            last_completed_request=JobRequest(request_id=1, finish_time=LONG_AGO, result="succeeded"),
        )

    def _task(self, task_id: str, *, created_at: datetime) -> None:
        arn = f"arn:aws:ecs:us-east-1:123456789012:task/agents/{task_id}"
        self.tasks[arn] = TaskInfo(arn, task_id, "RUNNING", "RUNNING", created_at, "adoscale:linux", "linux")


class FakeAdo:
    def __init__(self, world: World) -> None:
        self.w = world

    def get_pool(self, name: str) -> Pool:
        return Pool(id=POOL_ID, name=name)

    def add_agent(self, pool_id: int, body: Mapping[str, Any]) -> Agent:
        # The pass registers the pool's placeholder when it finds none (adoscale.ado.placeholder).
        agent_id = max(self.w.agents, default=0) + 100
        self.w.agents[agent_id] = Agent(
            id=agent_id,
            name=body["name"],
            status="offline",
            system_capabilities=body["systemCapabilities"],
            user_capabilities=body["userCapabilities"],
        )
        return self.w.agents[agent_id]

    def replace_agent(self, pool_id: int, agent_id: int, body: Mapping[str, Any]) -> Agent:
        agent = self.w.agents[agent_id].model_copy(
            update={"system_capabilities": body["systemCapabilities"], "user_capabilities": body["userCapabilities"]}
        )
        self.w.agents[agent_id] = agent
        return agent

    def list_job_requests(self, pool_id: int) -> list[JobRequest]:
        return list(self.w.jobs)

    def list_agents(self, pool_id: int, *, last_completed: bool = False, name: str | None = None) -> list[Agent]:
        return [a for a in self.w.agents.values() if name is None or a.name == name]

    def get_agent(self, pool_id: int, agent_id: int) -> Agent | None:
        return self.w.agents.get(agent_id)

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> Agent:
        agent = self.w.agents[agent_id].model_copy(update={"enabled": enabled})
        self.w.agents[agent_id] = agent
        self.w.actions.append(f"enabled={enabled} {agent.name}")
        return agent

    def delete_agent(self, pool_id: int, agent_id: int) -> bool:
        self.w.actions.append(f"delete {self.w.agents[agent_id].name}")
        return self.w.agents.pop(agent_id, None) is not None

    def parallel_job_limit(self) -> ParallelLimit | None:
        return None

    @contextmanager
    def bounded(self, seconds: float) -> Iterator[None]:
        yield


class FakeCompute:
    def __init__(self, world: World) -> None:
        self.w = world

    def launch(self, pool: str, count: int, token: str) -> LaunchResult:
        self.w.actions.append(f"launch {count}")
        return LaunchResult(())

    def list_tasks(self, pool: str) -> list[TaskInfo]:
        return list(self.w.tasks.values())

    def stop(self, pool: str, task_arn: str, reason: str) -> None:
        self.w.actions.append(f"stop {task_arn.rsplit('/', 1)[-1]}")
        self.w.tasks.pop(task_arn, None)


@dataclass
class Interrupter:
    """Raises `SignalArrivedError` at the `at`-th point of the pass (lines of the traced files, and returns from
    the DynamoDB client), once; remembers where."""

    at: int
    traced: Callable[[str], bool]
    seen: int = 0
    where: str | None = None

    def point(self, where: str) -> None:
        self.seen += 1
        if self.seen == self.at:
            self.where = where
            raise SignalArrivedError(where)

    def global_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == MEMORY_LEASE_SOURCE:
            # The in-memory table under its lock is one atomic step, as a DynamoDB request is: interrupted
            # just before it, or after it took effect but before the caller heard. (Line by line, the trace
            # would also raise between a `with lock:` body and the lock's release, where CPython runs no
            # signal handler.)
            self.point(f"call {frame.f_code.co_name} (memory lease)")
            return self.return_trace
        if frame.f_code.co_qualname.startswith(("Interrupter.", "InterruptedClient.")):
            return None  # the injection itself
        return self.local_trace if self.traced(frame.f_code.co_filename) else None

    def return_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "return":
            self.point(f"return from {frame.f_code.co_name} (memory lease)")
        return self.return_trace

    def local_trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.point(f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}")
        return self.local_trace


class InterruptedClient:
    """The DynamoDB client, whose request is made (and its effect real) before the interruption lands."""

    def __init__(self, client: Any, interrupter: Interrupter) -> None:
        self._client = client
        self._interrupter = interrupter

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            finally:
                self._interrupter.point(f"after DynamoDB {name}")

        return call


def _traces_everything(filename: str) -> bool:
    """Every line of adoscale's code the pass runs (the engine included), and the fake ports' lines."""
    return filename.startswith(str(ADOSCALE_SOURCES)) or filename == THIS_FILE


def _traces_the_lease_and_the_pass(filename: str) -> bool:
    """Against moto each pass costs real requests: the lines of the pass and of the lease (the engine's
    lines are pure computation, interrupted there a pass is in the same state as at the call to it)."""
    return filename in (RECONCILE_SOURCE, THIS_FILE) or filename.startswith(str(LEASE_SOURCES))


@dataclass
class Table:
    lease: Callable[[Interrupter], Lease]
    leases: Callable[[], dict[str, str]]  # pool -> owner, every lease in the table
    other: Lease  # how another pass, uninterrupted, reaches the same table


@contextmanager
def _table(kind: str, clock: Clock) -> Iterator[Table]:
    if kind == "memory":
        memory = MemoryLease(clock)
        yield Table(
            lease=lambda _interrupter: memory,
            leases=lambda: {pool: owner for pool, (owner, _) in memory._held.items()},
            other=memory,
        )
        return
    with mock_aws():
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)

        def leases() -> dict[str, str]:
            items = dynamodb.scan(TableName=TABLE)["Items"]
            return {item["pool"]["S"]: item["owner"]["S"] for item in items}

        yield Table(
            lease=lambda interrupter: DynamoLease(InterruptedClient(dynamodb, interrupter), TABLE, clock=clock),
            leases=leases,
            other=DynamoLease(dynamodb, TABLE, clock=clock),
        )


@pytest.mark.parametrize("held_elsewhere", [False, True], ids=["free", "held-elsewhere"])
@pytest.mark.parametrize("scenario", ["launch", "drain"])
@pytest.mark.parametrize("kind", ["memory", "dynamodb"])
def test_the_lease_is_given_back_whatever_point_the_pass_is_interrupted_at(
    kind: str, scenario: str, held_elsewhere: bool
) -> None:
    traced = _traces_everything if kind == "memory" else _traces_the_lease_and_the_pass
    clock = Clock(NOW)
    landed: list[str] = []
    with _table(kind, clock) as table:
        if held_elsewhere:
            assert table.other.acquire("linux", "another-pass", 60) is None
        at = 0
        while True:
            at += 1
            assert at < 20_000, "the pass never completed"
            world = World(scenario)
            interrupter = Interrupter(at, traced)
            reconciler = Reconciler(
                CONFIG, FakeAdo(world), FakeCompute(world), clock, lease=table.lease(interrupter), pass_id_prefix="us"
            )
            sys.settrace(interrupter.global_trace)
            try:
                report = reconciler.run_pool(CONFIG.pools[0])
            except SignalArrivedError:
                pass
            else:
                if interrupter.where is None:
                    break  # ran to its end: every point has been tried
            finally:
                sys.settrace(None)
            assert interrupter.where is not None
            landed.append(interrupter.where)
            expected = {"linux": "another-pass"} if held_elsewhere else {}
            assert table.leases() == expected, f"interrupted at point {at} ({interrupter.where}): {world.actions}"
    # The pass that ran to its end did its work (or skipped), and so the points above covered all of it.
    if held_elsewhere:
        assert report.skipped and not world.actions
    else:
        assert not report.errors and world.actions, report
        # The windows that matter were among the points: inside acquire after its write, inside release.
        wrote = "after DynamoDB put_item" if kind == "dynamodb" else "return from acquire (memory lease)"
        released = "after DynamoDB delete_item" if kind == "dynamodb" else "call release (memory lease)"
        assert wrote in landed and released in landed, [w for w in landed if not w.startswith(("reconcile", "test_"))]
    print(f"\n{kind}/{scenario}: interrupted at {len(landed)} points, the lease given back every time")
