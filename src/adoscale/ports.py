"""Every port of the controller in one file, each owned by its consumer (the pass in `adoscale.control`).

A port is the few calls the pass makes of a dependency, nothing more; the data that crosses it lives beside
its adapters (`compute.base`, `lease.base`, `history.base`, `ado.models`), which import nothing from here,
so the adapters and this file form no cycle. The packages re-export their port (`adoscale.compute.Compute`,
`adoscale.lease.Lease`, `adoscale.history.History`) for the callers that import it from there.

Adding a compute adapter: implement `Compute` (four calls, by pool name) and hand it to
`adoscale.bootstrap.build_controller` through `compute_for` (a `ComputeFor`: pool -> adapter), so one
controller can drive ECS pools and, say, EC2 pools side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    # Types only: the packages re-export their port from here, so importing them at run time would be a cycle.
    from adoscale.ado.models import Agent, JobRequest, ParallelLimit, Pool
    from adoscale.compute.base import LaunchResult, TaskInfo
    from adoscale.config import PoolConfig
    from adoscale.history.base import HistoryRecord
    from adoscale.lease.base import LeaseHeld

Clock = Callable[[], datetime]
"""The wall clock the pass reads once per observation (injected: the simulator's is virtual)."""

Monotonic = Callable[[], float]
"""Seconds for deadlines (injected for the same reason)."""


class AdoPort(Protocol):
    """What a pass needs of Azure DevOps (`adoscale.ado.AdoClient` is the real one)."""

    def get_pool(self, name: str) -> Pool: ...

    def list_job_requests(self, pool_id: int) -> list[JobRequest]: ...

    def list_agents(self, pool_id: int, *, last_completed: bool = False, name: str | None = None) -> list[Agent]: ...

    def get_agent(self, pool_id: int, agent_id: int) -> Agent | None: ...

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> Agent: ...

    def delete_agent(self, pool_id: int, agent_id: int) -> bool: ...

    def add_agent(self, pool_id: int, body: Mapping[str, Any]) -> Agent: ...

    def replace_agent(self, pool_id: int, agent_id: int, body: Mapping[str, Any]) -> Agent: ...

    def parallel_job_limit(self) -> ParallelLimit | None: ...

    def bounded(self, seconds: float) -> AbstractContextManager[None]: ...


class Compute(Protocol):
    """Where a pool's agents run, by pool name: the adapter knows each pool's placement.

    `token` makes a launch idempotent: the same token launches at most once (ECS RunTask `clientToken`),
    so a call retried after a lost response starts nothing twice. A launch that fails part-way still
    returns what did start, with the failures. `list_tasks` includes recently stopped tasks, with their
    stop code and reason (how the pass learns that tasks fail to start)."""

    def launch(self, pool: str, count: int, token: str) -> LaunchResult: ...

    def list_tasks(self, pool: str) -> list[TaskInfo]: ...

    def stop(self, pool: str, task_arn: str, reason: str) -> None: ...

    def describe(self, pool: str, task_arns: Sequence[str]) -> list[TaskInfo]:
        """The named tasks of `pool` as they are now (the waiter's read after a launch); a task the service
        does not know, or not of this pool, is absent from the answer."""
        ...


class ComputeFor(Protocol):
    """The compute adapter of a pool: the composition root's seam for more than one kind of compute."""

    def __call__(self, pool: PoolConfig) -> Compute: ...


class Lease(Protocol):
    """Single flight per pool. A lease is (pool, owner, expiry): taken with a conditional write that succeeds
    only when nobody holds it or the holder's expiry has passed; released by its owner only."""

    def acquire(self, pool: str, owner: str, ttl_s: float) -> LeaseHeld | None:
        """Take the pool's lease for `ttl_s` seconds; None when taken, else who holds it."""
        ...

    def release(self, pool: str, owner: str) -> None:
        """Give the lease back, only if `owner` still holds it."""
        ...

    def renew(self, pool: str, owner: str, ttl_s: float) -> bool:
        """Extend `owner`'s lease by `ttl_s` from now if it still holds it; False when it does not (another
        pass took it over): the fencing check a pass makes before each action."""
        ...


class History(Protocol):
    """The warm pool's demand history, one record per pool, written by the lease holder only."""

    def load(self, pool: str) -> HistoryRecord: ...

    def save(self, pool: str, record: HistoryRecord) -> None: ...


__all__ = ["AdoPort", "Clock", "Compute", "ComputeFor", "History", "Lease", "Monotonic"]
