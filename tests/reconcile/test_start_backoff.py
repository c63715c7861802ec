"""The start-failure back-off's rules, exactly (`adoscale.control.backoff`): what counts as a failure to
start, the doubling and its bound, and the reset by a task that worked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adoscale.compute.base import TaskInfo
from adoscale.control.backoff import BACKOFF_BASE_S, BACKOFF_MAX_S, start_backoff, start_failure

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def task(
    n: int, *, status: str = "STOPPED", code: str | None = None, reason: str = "", exit_code: int | None = None
) -> TaskInfo:
    at = T0 + timedelta(seconds=10 * n)
    return TaskInfo(
        task_arn=f"arn:aws:ecs:us-east-1:1:task/c/{n:032x}",
        task_id=f"{n:032x}",
        last_status=status,
        desired_status="STOPPED",
        created_at=at,
        started_by="x",
        pool="linux",
        stopped_reason=reason,
        stop_code=code,
        stopped_at=at + timedelta(seconds=5) if status == "STOPPED" else None,
        exit_code=exit_code,
    )


def test_what_counts_as_a_failure_to_start() -> None:
    assert start_failure(task(1, code="TaskFailedToStart", reason="CannotPullContainerError: x"), False)
    assert start_failure(task(1, code="TaskFailedToStart", reason="ResourceInitializationError: y"), False)
    assert start_failure(task(1, code="EssentialContainerExited", exit_code=1), False) == (
        "EssentialContainerExited: exit code 1 before its agent registered"
    )
    # Not failures: a clean run-once exit, a crash after the agent registered, our own stop, a running task.
    assert start_failure(task(1, code="EssentialContainerExited", exit_code=0), False) is None
    assert start_failure(task(1, code="EssentialContainerExited", exit_code=1), True) is None
    assert start_failure(task(1, code="UserInitiated", reason="adoscale: idle"), False) is None
    assert start_failure(task(1, status="RUNNING"), False) is None


def test_the_wait_doubles_from_the_newest_failure_up_to_its_bound_and_a_success_resets_it() -> None:
    failed = [task(n, code="TaskFailedToStart", reason="CannotPullContainerError: x") for n in range(1, 4)]
    backoff = start_backoff(failed, [], "")
    assert backoff is not None and backoff.failures == 3
    assert backoff.retry_at == failed[-1].stopped_at + timedelta(seconds=BACKOFF_BASE_S * 4)  # type: ignore[operator]
    many = [task(n, code="TaskFailedToStart", reason="r") for n in range(1, 40)]
    longest = start_backoff(many, [], "")
    assert longest is not None
    assert longest.retry_at == many[-1].stopped_at + timedelta(seconds=BACKOFF_MAX_S)  # type: ignore[operator]
    # A newer task whose agent registered: the failures before it no longer count.
    worked = task(5, status="RUNNING")
    assert start_backoff([*failed, worked], [worked.task_id], "") is None
    # ... but failures after it do.
    again = start_backoff([*failed, worked, task(9, code="TaskFailedToStart", reason="r")], [worked.task_id], "")
    assert again is not None and again.failures == 1
