"""Tasks that fail to start: recognised from ECS's own record, and the pool's launches backed off. Pure.

ECS says why a task stopped (`stopCode`, `stoppedReason`, its containers' exit codes). A task failed to start
when ECS stopped it with `TaskFailedToStart` (an image that cannot be pulled, `CannotPullContainerError`; a
secret or log group it cannot read, `ResourceInitializationError`; ...), when its reason names one of those
errors, or when its essential container exited non-zero before its agent ever registered. Relaunching for the
same jobs every pass would only fail again (3 queued jobs got 60 tasks in 20 passes), so:

- the failures since the pool's last task that worked (its agent registered, or it exited cleanly) are
  counted; with `n` of them, the next launch waits `min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**(n-1))` after
  the newest one (exponential, bounded, reset by a success);
- when that time comes, one task is launched, not the batch (a probe): if it starts, the next pass
  launches the rest; if it fails, the wait doubles;
- the jobs stay queued (nothing is cancelled), and the pool's report says why, each pass, until it works;
- one alert per incident, not per round: an incident starts when the pool's tasks begin failing to start and
  ends at the next successful start. The deployed workflow alerts from the waiter only for a launch made
  outside an incident (the pass says whether its launch was a probe inside one: every launch after the first
  failure is seen is one); a long-running process (`serve`) alerts when a pool's back-off appears
  (`StartIncidents`).

The state is ECS's: stopped tasks stay listed for at least an hour, longer than the longest wait, so every
pass (any runtime, any Lambda container) reads the same back-off without anything stored by adoscale.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from adoscale.compute.base import TaskInfo

BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 900.0  # well inside the hour for which ECS lists stopped tasks

FAILED_TO_START = "TaskFailedToStart"
CLEAN_EXIT = "EssentialContainerExited"
# Errors ECS names in `stoppedReason` when a task cannot start (ECS developer guide, "Stopped tasks error
# codes"): CannotPullContainerError, ResourceInitializationError, CannotStartContainerError, ...
START_ERRORS = (
    "CannotPullContainerError",
    "ResourceInitializationError",
    "CannotStartContainerError",
    "CannotCreateContainerError",
    "CannotInspectContainerError",
    "ContainerRuntimeError",
    "ContainerRuntimeTimeoutError",
    "CannotCreateVolumeError",
    "InternalError",
)
# Any of them in a reason, in one search (every pass reads every task stopped within the hour).
_START_ERROR = re.compile("|".join(map(re.escape, START_ERRORS)))


def start_failure(task: TaskInfo, registered: bool) -> str | None:
    """Why `task` failed to start, or None when it did not (still starting, running, or stopped after its
    agent registered). `registered`: an agent of that task's name is (or was) in the pool."""
    if task.last_status.upper() != "STOPPED" or registered:
        return None
    reason = (task.stopped_reason or "").strip()
    if task.stop_code == FAILED_TO_START or _START_ERROR.search(reason):
        return f"{task.stop_code or 'stopped'}: {reason or 'no reason given'}"
    if task.stop_code == CLEAN_EXIT and task.exit_code not in (None, 0):
        return f"{CLEAN_EXIT}: exit code {task.exit_code} before its agent registered"
    return None


def started(task: TaskInfo, registered: bool) -> bool:
    """The task worked: its agent registered, or it ran to a clean exit."""
    return registered or (task.stop_code == CLEAN_EXIT and task.exit_code == 0)


@dataclass(frozen=True, slots=True)
class StartBackoff:
    """The pool's tasks fail to start: how many in a row, the newest reason, and when to try one again."""

    failures: int
    reason: str
    retry_at: datetime

    def describe(self) -> str:
        return (
            f"tasks fail to start ({self.failures} in a row; the jobs stay queued): {self.reason}; "
            f"next launch (one task) at {self.retry_at.isoformat(timespec='seconds')}"
        )


def start_backoff(tasks: Iterable[TaskInfo], registered: Iterable[str], prefix: str) -> StartBackoff | None:
    """The back-off the pool's recent tasks call for, or None. `registered`: the pool's agent names."""
    names = {name.lower() for name in registered}
    last_success: datetime | None = None
    failed: list[tuple[TaskInfo, str]] = []
    for task in tasks:
        known = (prefix + task.task_id).lower() in names
        reason = start_failure(task, known)
        if reason is not None:
            failed.append((task, reason))
        elif started(task, known) and (last_success is None or task.created_at > last_success):
            last_success = task.created_at
    recent = [(t, r) for t, r in failed if last_success is None or t.created_at > last_success]
    if not recent:
        return None
    newest, reason = max(recent, key=lambda pair: (pair[0].stopped_at or pair[0].created_at, pair[0].task_arn))
    delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** min(len(recent) - 1, 30))
    return StartBackoff(len(recent), reason, (newest.stopped_at or newest.created_at) + timedelta(seconds=delay))


class StartIncidents:
    """Which pools of a long-running process are in a start-failure incident: the transitions give one alert
    when an incident opens (the pool's back-off appears) and one notice when it ends (the back-off is gone: a
    task started). The back-off itself stays derived from ECS; this only remembers what was already said."""

    def __init__(self) -> None:
        self._open: set[tuple[str, str]] = set()

    def update(self, key: tuple[str, str], backoff: StartBackoff | None) -> str:
        """ "opened", "closed" or "" (no change) for the pool `key` (organization, pool) seeing `backoff`."""
        if backoff is not None and key not in self._open:
            self._open.add(key)
            return "opened"
        if backoff is None and key in self._open:
            self._open.discard(key)
            return "closed"
        return ""
