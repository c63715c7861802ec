"""The `Compute` port's contract, run against every implementation: `EcsCompute` (against moto) and
`SimFargate` (the simulator's compute, in virtual time).

What every implementation promises (`adoscale.compute.base.Compute`): a launch of N starts N tasks of that
pool; a pool lists its own tasks and no other pool's; a launch repeated with the same token starts nothing
twice; a stopped task stops, and stopping one that is stopped already or unknown is not an error; a launch
that runs out of capacity part-way returns what started, with the failures.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from adoscale.compute import Compute, EcsCompute, TaskInfo, started_by_for, task_id_of
from adoscale_lab.emulator import AdoModel
from adoscale_lab.sim.fargate import EventQueue, FargateProfile, SimFargate
from tests.aws import ecs_world, pool_config

POOLS = ("linux", "java")
START = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
# What ECS says when Fargate has no capacity for a task (repost.aws/knowledge-center/ecs-fargate-runtask-capacity).
# RunTask reports tasks it could not start in its response's `failures` (reason and ARN, ECS Developer Guide,
# "Amazon ECS API failure reasons"): that is the form the moto backend below answers in.
CAPACITY_UNAVAILABLE = (
    "Capacity is unavailable at this time. Please try again later or in a different availability zone"
)


@dataclass(frozen=True)
class Backend:
    """One implementation of the port and the two things a test needs to steer around it."""

    compute: Compute
    # From now on at most `n` more tasks find capacity; every task beyond that is refused.
    limit_capacity: Callable[[int], None]
    # Let the implementation's time move on a little (what "eventually" waits for); bounded by the caller.
    settle: Callable[[], None]


class MotoFargateCapacity:
    """Fargate capacity for moto, which has none to run out of: RunTask places at most the remaining
    capacity and answers every task beyond it in the response's `failures`, as ECS does (RunTask's
    response: "tasks" and "failures", docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html)."""

    def __init__(self) -> None:
        self.remaining: int | None = None  # None: unlimited, as moto ships

    def limit(self, tasks: int) -> None:
        self.remaining = tasks

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.core.responses import ActionResult
        from moto.ecs.models import EC2ContainerServiceBackend
        from moto.ecs.responses import EC2ContainerServiceResponse

        capacity = self
        run_in_backend = EC2ContainerServiceBackend.run_task
        answer = EC2ContainerServiceResponse.run_task

        def place(backend: Any, cluster: str, task_definition: str, count: int, *args: Any, **kwargs: Any) -> Any:
            placed = count if capacity.remaining is None else min(count, capacity.remaining)
            if capacity.remaining is not None:
                capacity.remaining -= placed
            return run_in_backend(backend, cluster, task_definition, placed, *args, **kwargs)

        def run_task(response: Any) -> Any:
            result = answer(response)
            body = dict(cast("dict[str, Any]", result.result))
            missing = response._get_int_param("count", 1) - len(body["tasks"])
            # A new result, not the old one changed: a replayed clientToken answers the cached one.
            body["failures"] = [*body["failures"], *([{"reason": CAPACITY_UNAVAILABLE}] * missing)]
            return ActionResult(body)

        monkeypatch.setattr(EC2ContainerServiceBackend, "run_task", place)
        monkeypatch.setattr(EC2ContainerServiceResponse, "run_task", run_task)


class SimCapacityDraws(random.Random):
    """The simulator's random source, scripted for capacity: SimFargate draws `random()` once per task
    against `capacity_error_rate` (0.5 below), and this source draws "capacity available" while the test's
    budget lasts and "unavailable" after. `uniform` (start-up times) returns the middle of its range and
    draws nothing, so that each `random()` is one capacity check."""

    def __init__(self) -> None:
        super().__init__(0)
        self.remaining: int | None = None

    def limit(self, tasks: int) -> None:
        self.remaining = tasks

    def random(self) -> float:
        if self.remaining is None:
            return 0.99
        if self.remaining > 0:
            self.remaining -= 1
            return 0.99
        return 0.0

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


def unknown_tasks_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """StopTask on a task ECS does not know answers `InvalidParameterException` "The referenced task was not
    found" (seen from the service, e.g. github.com/griptape-ai/griptape-nodes-engine/issues/1454 and
    github.com/wazuh/wazuh/issues/25439); moto raises a bare exception instead (a 500), which no client can
    tell from a server fault. Make moto answer as ECS does."""
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    stop_in_backend = EC2ContainerServiceBackend.stop_task

    def stop_task(backend: Any, cluster: str, task: str, reason: str) -> Any:
        known = backend.tasks.get(backend._get_cluster(cluster).name, {})
        if not any(arn.rsplit("/", 1)[-1] == task.rsplit("/", 1)[-1] for arn in known):
            raise InvalidParameterException("The referenced task was not found.")
        return stop_in_backend(backend, cluster, task, reason)

    monkeypatch.setattr(EC2ContainerServiceBackend, "stop_task", stop_task)


def running_tasks_have_started_at(monkeypatch: pytest.MonkeyPatch) -> None:
    """ECS's `Task.startedAt`: "the time when the task transitioned from the PENDING state to the RUNNING state"
    (ECS API Reference, Task), kept once the task stops; absent for a task that stopped before it ran. moto starts
    tasks in RUNNING and never sets it: set it when moto creates the (already running) task."""
    from moto.ecs.models import Task

    create = Task.__init__

    def init(task: Any, *args: Any, **kwargs: Any) -> None:
        create(task, *args, **kwargs)
        task.started_at = datetime.now(UTC)  # serialized by moto as `startedAt`

    monkeypatch.setattr(Task, "__init__", init)


def _run_for(events: EventQueue, seconds: float) -> None:
    until = events.now + timedelta(seconds=seconds)
    while (due := events.next_time()) is not None and due <= until:
        events.run_next()
    events.now = until


@pytest.fixture(params=["EcsCompute-moto", "SimFargate"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    if request.param == "EcsCompute-moto":
        # ECS RunTask's `clientToken`: "An identifier that you provide to ensure the idempotency of the
        # request" (docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html). moto ignores it;
        # conftest's `idempotent_run_task` makes moto answer a repeated token with the first call's result,
        # as ECS does. EcsCompute relies on that rule, so the contract holds it to it.
        request.getfixturevalue("idempotent_run_task")
        capacity = MotoFargateCapacity()
        capacity.install(monkeypatch)
        unknown_tasks_not_found(monkeypatch)
        running_tasks_have_started_at(monkeypatch)
        with ecs_world() as (ecs, world):
            pools = {name: pool_config(world, name).ecs for name in POOLS}
            # moto holds tasks where RunTask and StopTask leave them (`ecs_world`): nothing to wait for.
            yield Backend(EcsCompute(ecs, pools), capacity.limit, settle=lambda: None)
        return
    events = EventQueue(START)
    model = AdoModel(org="contract", clock=events.clock)
    draws = SimCapacityDraws()
    fargate = SimFargate(
        events,
        model,
        {name: model.create_pool(name) for name in POOLS},
        job_seconds=lambda _request_id: 60.0,
        rng=draws,
        profile=FargateProfile(capacity_error_rate=0.5),
    )
    yield Backend(fargate, draws.limit, settle=lambda: _run_for(events, 1.0))


def _live(task: TaskInfo) -> bool:
    return task.desired_status == "RUNNING" and task.last_status != "STOPPED"


def _eventually(backend: Backend, check: Callable[[], bool], attempts: int = 30) -> bool:
    """`check` holds within a bounded number of the implementation's own steps (never a wall-clock sleep)."""
    for _ in range(attempts):
        if check():
            return True
        backend.settle()
    return check()


def test_launch_n_starts_n_live_tasks_of_that_pool(backend: Backend) -> None:
    result = backend.compute.launch("linux", 3, token="pass-1")
    assert len(result.started) == 3
    assert result.failures == ()
    assert len({t.task_arn for t in result.started}) == 3
    for task in result.started:
        assert task.pool == "linux"
        assert task.started_by == started_by_for("linux")
        assert task.task_id == task_id_of(task.task_arn)
        assert _live(task)
        assert task.created_at.tzinfo is not None


def test_a_pool_lists_its_own_tasks_and_no_other_pools(backend: Backend) -> None:
    assert backend.compute.list_tasks("linux") == []
    linux = {t.task_arn for t in backend.compute.launch("linux", 2, token="linux-1").started}
    java = {t.task_arn for t in backend.compute.launch("java", 3, token="java-1").started}
    listed_linux = backend.compute.list_tasks("linux")
    listed_java = backend.compute.list_tasks("java")
    assert {t.task_arn for t in listed_linux} == linux
    assert {t.task_arn for t in listed_java} == java
    assert {t.pool for t in listed_linux} == {"linux"}
    assert {t.pool for t in listed_java} == {"java"}
    assert all(_live(t) for t in [*listed_linux, *listed_java])


def test_a_launch_retried_with_its_token_starts_nothing_twice(backend: Backend) -> None:
    first = backend.compute.launch("linux", 3, token="pass-7")
    again = backend.compute.launch("linux", 3, token="pass-7")
    assert {t.task_arn for t in again.started} == {t.task_arn for t in first.started}
    assert len(backend.compute.list_tasks("linux")) == 3
    # The token is what makes it the same launch: another token launches again.
    other = backend.compute.launch("linux", 3, token="pass-8")
    assert not {t.task_arn for t in other.started} & {t.task_arn for t in first.started}
    assert len(backend.compute.list_tasks("linux")) == 6


def test_a_stopped_task_stops_and_stopping_again_or_an_unknown_task_is_no_error(backend: Backend) -> None:
    target, keep = backend.compute.launch("linux", 2, token="pass-1").started
    backend.compute.stop("linux", target.task_arn, "adoscale: contract")

    def listed() -> dict[str, TaskInfo]:
        return {t.task_arn: t for t in backend.compute.list_tasks("linux")}

    # Still listed once stopped (a stopping task counts against the pool's maximum until it has stopped), and
    # STOPPED within a bounded number of the implementation's steps.
    assert listed()[target.task_arn].desired_status == "STOPPED"
    assert _eventually(backend, lambda: listed()[target.task_arn].last_status == "STOPPED")
    assert listed()[target.task_arn].stopped_reason == "adoscale: contract"
    assert _live(listed()[keep.task_arn])  # only the task named was stopped
    backend.compute.stop("linux", target.task_arn, "adoscale: contract, again")
    unknown = target.task_arn.rsplit("/", 1)[0] + "/" + "0" * 32
    backend.compute.stop("linux", unknown, "adoscale: contract, unknown")
    tasks = listed()
    assert set(tasks) == {target.task_arn, keep.task_arn}
    assert not _live(tasks[target.task_arn]) and _live(tasks[keep.task_arn])


def test_a_launch_beyond_capacity_starts_what_it_can_and_reports_the_rest(backend: Backend) -> None:
    backend.limit_capacity(5)
    result = backend.compute.launch("linux", 12, token="pass-1")
    assert len(result.started) == 5
    assert result.failures
    assert all("capacity is unavailable" in failure.lower() for failure in result.failures)
    assert {t.task_arn for t in backend.compute.list_tasks("linux")} == {t.task_arn for t in result.started}


def test_describe_answers_the_named_tasks_of_the_pool_and_omits_unknown_ones(backend: Backend) -> None:
    """The waiter's read: the tasks just launched, as they are now; an ARN the service does not know is absent."""
    launched = backend.compute.launch("linux", 2, token="pass-1").started
    other = backend.compute.launch("java", 1, token="java-1").started[0]
    arns = [t.task_arn for t in launched]
    unknown = arns[0].rsplit("/", 1)[0] + "/" + "0" * 32
    # Fargate takes 30-60 s from launch to RUNNING (the simulator's profile); each step is 1 s of its time.
    assert _eventually(backend, lambda: all(t.started_at for t in backend.compute.describe("linux", arns)), 120)
    described = backend.compute.describe("linux", [*arns, unknown, other.task_arn])
    assert sorted(t.task_arn for t in described) == sorted(arns)
    assert all(t.pool == "linux" and t.last_status == "RUNNING" and t.started_at is not None for t in described)
    backend.compute.stop("linux", arns[0], "adoscale: contract")
    assert _eventually(backend, lambda: backend.compute.describe("linux", arns[:1])[0].last_status == "STOPPED")
    assert backend.compute.describe("linux", arns[:1])[0].started_at is not None  # it ran before it stopped
