"""A simulated Fargate in virtual time, with the agents that run inside its tasks.

It implements the `Compute` port, so the real reconcile loop drives it. Tasks start in PROVISIONING and
reach RUNNING after a start-up time; the agent inside (`sim/agent.py`, the demo's too) connects a little
later, takes at most one job (`run.sh --once`), and exits, which stops the task. Capacity errors and Spot
interruptions happen at configurable rates.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from adoscale.compute.base import LaunchResult, TaskInfo
from adoscale.compute.identity import started_by_for
from adoscale_lab.emulator import AdoModel
from adoscale_lab.sim.agent import EXITED_REASON, AgentState, AgentStats, EmulatedAgent

# The image behind the published 30-60 s: the agent on a full Ubuntu base with common build tools, about
# 1 GB compressed (gzip). Fargate caches nothing between tasks, so every task pulls and unpacks all of it.
REFERENCE_IMAGE_MB = 1000.0
# Assumptions, not published figures (docs/latency.md): ECR in the same Region through a VPC endpoint
# delivers about 50 MB/s to one task; unpacking gzip layers runs at about 80 MB/s of compressed input,
# zstd about three times as fast and 10 % smaller for the same content; with a SOCI index the task starts
# once about 10 % of the image (what start-up reads) is fetched, plus 2 s for the index and the snapshotter.
PULL_MB_PER_S = 50.0
GUNZIP_MB_PER_S = 80.0
ZSTD_SPEEDUP = 3.0
ZSTD_SIZE = 0.9
SOCI_FRACTION = 0.1
SOCI_OVERHEAD_S = 2.0
MIN_TO_RUNNING_S = 10.0  # scheduling, the network interface, the container start: no image is free of these


@dataclass(frozen=True, slots=True)
class ImageModel:
    """The agent image as far as start-up time goes: its size (compressed, as gzip), its layers'
    compression, and whether a SOCI index lets Fargate start it before the pull ends."""

    size_mb: float = REFERENCE_IMAGE_MB
    compression: str = "gzip"  # or "zstd"
    soci: bool = False

    def __post_init__(self) -> None:
        if self.size_mb <= 0:
            raise ValueError("image size must be positive")
        if self.compression not in ("gzip", "zstd"):
            raise ValueError(f"compression {self.compression!r}: gzip or zstd")

    def pull_seconds(self) -> float:
        """Seconds from the pull's start to a container that can start: download and unpack."""
        if self.compression == "zstd":
            size, unpack = self.size_mb * ZSTD_SIZE, GUNZIP_MB_PER_S * ZSTD_SPEEDUP
        else:
            size, unpack = self.size_mb, GUNZIP_MB_PER_S
        seconds = size / PULL_MB_PER_S + size / unpack
        return seconds * SOCI_FRACTION + SOCI_OVERHEAD_S if self.soci else seconds

    def delta_seconds(self) -> float:
        """The change against the reference image that the published start-up range was measured with."""
        return self.pull_seconds() - ImageModel().pull_seconds()


@dataclass(frozen=True, slots=True)
class FargateProfile:
    """Start-up times default to published figures: 30 to 60 s to RUNNING (for the reference image, see
    `ImageModel`; another image moves both ends by its pull-time difference), then 10 to 20 s for the
    agent to connect and take a job."""

    to_running_s: tuple[float, float] = (30.0, 60.0)
    agent_connect_s: tuple[float, float] = (10.0, 20.0)
    capacity_error_rate: float = 0.0
    spot_interruption_per_hour: float = 0.0
    # A start-failure fault: this share of tasks never runs; ECS stops it with `TaskFailedToStart` and this
    # reason (an image that cannot be pulled), which the controller's back-off reads.
    start_failure_rate: float = 0.0
    start_failure_reason: str = "CannotPullContainerError: pull image manifest has been retried 5 time(s)"
    image: ImageModel = field(default_factory=ImageModel)

    def running_range_s(self) -> tuple[float, float]:
        delta = self.image.delta_seconds()
        low, high = self.to_running_s
        return max(MIN_TO_RUNNING_S, low + delta), max(MIN_TO_RUNNING_S, high + delta)


@dataclass(slots=True)
class SimTask:
    arn: str
    task_id: str
    pool: str
    launched_at: datetime
    status: str = "PROVISIONING"
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    agent: EmulatedAgent | None = None  # from RUNNING on

    @property
    def live(self) -> bool:
        return self.stopped_at is None

    @property
    def took_job(self) -> bool:
        return self.agent is not None and self.agent.took_job

    @property
    def job_seconds(self) -> float:
        return self.agent.job_seconds if self.agent is not None else 0.0


@dataclass
class SimStats:
    calls: int = 0
    launched: int = 0
    capacity_errors: int = 0
    start_failures: int = 0
    busy_killed: int = 0
    spot_interrupted: int = 0


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    action: Callable[[], None] = field(compare=False)


class EventQueue:
    """A virtual clock and the events scheduled on it."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._heap: list[_Event] = []
        self._seq = itertools.count()

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, _Event(max(when, self.now), next(self._seq), action))

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        self.at(self.now + timedelta(seconds=seconds), action)

    def next_time(self) -> datetime | None:
        return self._heap[0].at if self._heap else None

    def run_next(self) -> None:
        event = heapq.heappop(self._heap)
        self.now = event.at
        event.action()

    def clock(self) -> datetime:
        return self.now


class SimFargate:
    """The `Compute` port in virtual time, playing each task's agent against the ADO model."""

    def __init__(
        self,
        events: EventQueue,
        model: AdoModel,
        pool_ids: dict[str, int],
        job_seconds: Callable[[int], float],
        rng: random.Random,
        profile: FargateProfile | None = None,
        capabilities: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self._events = events
        self._model = model
        self._pool_ids = pool_ids
        self._job_seconds = job_seconds
        self._rng = rng
        self.profile = profile or FargateProfile()
        self._running_range = self.profile.running_range_s()
        self._capabilities = capabilities or {}
        self.tasks: dict[str, SimTask] = {}
        # Indexes over `tasks`, in launch order as `tasks` is, so that a listing (every pass) costs the tasks it
        # shows rather than every task of the day: the live ones, each pool's live or stopped within the hour
        # (what ListTasks shows), and when each stopped task leaves that hour.
        self._live: dict[str, SimTask] = {}
        self._listed: dict[str, dict[str, SimTask]] = {}
        self._leaving: deque[tuple[datetime, str, str]] = deque()  # (stopped at, pool, arn), in stop order
        self._infos: dict[str, tuple[tuple[object, ...], TaskInfo]] = {}  # arn -> (the fields it shows, the info)
        self._waiting_agents: set[str] = set()  # tasks whose agent is online without a job
        self._ids = itertools.count(1)
        self.stats = SimStats()
        self.agents = AgentStats()
        self.requeued: dict[int, int] = {}
        self._launches: dict[str, LaunchResult] = {}  # new request id -> the Spot-interrupted request it replaces

    # -- the Compute port ------------------------------------------------------------------------

    def launch(self, pool: str, count: int, token: str) -> LaunchResult:
        # RunTask's clientToken rule: the same token launches once; a repeat answers the first result.
        if token in self._launches:
            return self._launches[token]
        started: list[TaskInfo] = []
        failures: list[str] = []
        self.stats.calls += (count + 9) // 10
        for _ in range(count):
            if self._rng.random() < self.profile.capacity_error_rate:
                self.stats.capacity_errors += 1
                failures.append("RESOURCE:FARGATE capacity is unavailable at this time")
                continue
            task_id = f"{next(self._ids):032x}"
            task = SimTask(f"arn:aws:ecs:sim:0:task/sim/{task_id}", task_id, pool, self._events.now)
            self.tasks[task.arn] = task
            self._live[task.arn] = task
            self._listed.setdefault(pool, {})[task.arn] = task
            self.stats.launched += 1
            self._events.after(self._rng.uniform(*self._running_range), partial(self._running, task))
            started.append(self._info(task))
        self._launches[token] = LaunchResult(tuple(started), tuple(failures))
        return self._launches[token]

    def list_tasks(self, pool: str) -> list[TaskInfo]:
        """The pool's tasks that are live or stopped within the hour (ECS keeps a stopped task listed about
        an hour), in launch order."""
        horizon = self._events.now - timedelta(hours=1)
        while self._leaving and self._leaving[0][0] <= horizon:
            _, owner, arn = self._leaving.popleft()
            self._listed[owner].pop(arn, None)
        mine = list(self._listed.get(pool, {}).values())
        self.stats.calls += 1 + (len(mine) + 99) // 100
        return [self._info(t) for t in mine]

    def stop(self, pool: str, task_arn: str, reason: str) -> None:
        self.stats.calls += 1
        task = self.tasks.get(task_arn)
        if task is None or not task.live:
            return
        self._kill(task, reason)

    def describe(self, pool: str, task_arns: Sequence[str]) -> list[TaskInfo]:
        self.stats.calls += (len(task_arns) + 99) // 100
        found = (self.tasks.get(arn) for arn in task_arns)
        return [self._info(task) for task in found if task is not None and task.pool == pool]

    def _info(self, task: SimTask) -> TaskInfo:
        # A task's info is rebuilt only when a field it shows has changed (TaskInfo is frozen: sharing is safe).
        shown = (task.status, task.started_at, task.stopped_at, task.stopped_reason, task.stop_code)
        cached = self._infos.get(task.arn)
        if cached is not None and cached[0] == shown:
            return cached[1]
        info = TaskInfo(
            task_arn=task.arn,
            task_id=task.task_id,
            last_status=task.status,
            desired_status="STOPPED" if not task.live else "RUNNING",
            created_at=task.launched_at,
            started_by=started_by_for(task.pool),
            pool=task.pool,
            stopped_reason=task.stopped_reason,
            started_at=task.started_at,
            stop_code=task.stop_code,
            stopped_at=task.stopped_at,
        )
        self._infos[task.arn] = (shown, info)
        return info

    # -- what happens inside a task: the emulated agent, woken in virtual time --------------------------

    def _running(self, task: SimTask) -> None:
        if not task.live:
            return
        # (The draw only when the fault is on, so that runs without it keep their random sequence.)
        if self.profile.start_failure_rate > 0 and self._rng.random() < self.profile.start_failure_rate:
            self.stats.start_failures += 1
            self._stopped(task, self.profile.start_failure_reason)
            task.stop_code = "TaskFailedToStart"
            return
        task.status = "RUNNING"
        task.started_at = self._events.now
        connect = self._rng.uniform(*self.profile.agent_connect_s)
        task.agent = EmulatedAgent(
            self._model,
            self._pool_ids[task.pool],
            task.task_id,
            created_at=task.launched_at,
            online_at=self._events.now + timedelta(seconds=connect),
            capabilities=self._capabilities.get(task.pool, {}),
            job_seconds=self._job_seconds,
            stats=self.agents,
        )
        self._events.at(task.agent.online_at, partial(self._wake, task))
        if self.profile.spot_interruption_per_hour > 0:
            self._events.after(
                self._rng.expovariate(self.profile.spot_interruption_per_hour / 3600.0),
                partial(self._spot_interruption, task),
            )

    def _wake(self, task: SimTask) -> None:
        """The agent's own timer: it connects, or its job ends."""
        agent = task.agent
        if not task.live or agent is None:
            return
        connecting = agent.state is AgentState.STARTING
        self._after_advance(task, agent.advance(self._events.now))
        if connecting:
            self.collect_assignments()

    def _after_advance(self, task: SimTask, wake_at: datetime | None) -> None:
        agent = task.agent
        assert agent is not None
        if agent.state is AgentState.IDLE:
            self._waiting_agents.add(task.arn)
        else:
            self._waiting_agents.discard(task.arn)
        if agent.state is AgentState.EXITED:
            self._stopped(task, EXITED_REASON)
        elif wake_at is not None:
            self._events.at(wake_at, partial(self._wake, task))

    def collect_assignments(self) -> None:
        """Agents that the service just gave a job start running it."""
        for arn in list(self._waiting_agents):
            task = self.tasks[arn]
            if not task.live or task.agent is None:
                self._waiting_agents.discard(arn)
                continue
            self._after_advance(task, task.agent.advance(self._events.now))

    def _stopped(self, task: SimTask, reason: str) -> None:
        task.status = "STOPPED"
        task.stopped_at = self._events.now
        task.stopped_reason = reason
        self._waiting_agents.discard(task.arn)
        self._live.pop(task.arn, None)
        self._leaving.append((self._events.now, task.pool, task.arn))

    def _kill(self, task: SimTask, reason: str) -> None:
        """The task is stopped from outside: a running job dies with it."""
        if task.agent is not None and task.agent.stopped(self._events.now):
            self.stats.busy_killed += 1
        self._stopped(task, reason)

    def _spot_interruption(self, task: SimTask) -> None:
        if not task.live:
            return
        self.stats.spot_interrupted += 1
        # Not adoscale's doing, and not counted as a busy agent killed by the controller; the job is
        # retried by the user's pipeline, which the simulator models by queueing it again.
        if task.agent is not None:
            interrupted = task.agent.request_id
            requeued = task.agent.interrupted(self._events.now)
            if requeued is not None and interrupted is not None:
                self.requeued[requeued] = interrupted
        self._stopped(task, "Spot interruption")
        self.collect_assignments()

    def live_tasks(self) -> list[SimTask]:
        """The tasks not stopped, in launch order."""
        return list(self._live.values())
