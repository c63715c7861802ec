"""Act: carry out a `Decision` with the confirm-before-act protocols, and say what was done (`ActResult`).

Every action that could hurt a working agent is confirmed against a fresh read of that one agent right
before it, never on the strength of the observation: a drain reads, disables, reads again and stops only if
still idle (else enables again); a stop reads the task's agent by name and leaves a task whose agent came
online or took a job; a delete reads the agent and leaves one that is online or busy again. A launch carries
the pass id as its idempotency token. No action starts once the pass's deadline has passed, nor once the
pass's `guard` says it may no longer act (its lease is lost).

A failure part-way is not raised: it ends the acting and is the result's `failure`, beside what was done
before it (an authentication failure, which every pool would share, and interruptions are raised).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from adoscale.ado.errors import AdoAuthError, AdoError
from adoscale.ado.models import Agent
from adoscale.control.decide import Decision
from adoscale.ports import AdoPort, Compute, History, Monotonic
from adoscale.scaling import Drain, StopTask

log = logging.getLogger("adoscale.reconcile")


class PassDeadlineError(AdoError):
    """The pass ran out of time before acting on everything it decided; the next pass carries on."""


class LeaseLostError(Exception):
    """Another pass took this pool's lease over (this one outlived it): this pass stops acting."""


Guard = Callable[[str], None]
"""Called before each action with what it is about to do; raises to stop the pass acting (a lost lease)."""


LAUNCH_ERROR = "launch: "  # the prefix of each launch ECS refused, in `ActResult.errors`


@dataclass(frozen=True, slots=True)
class ActResult:
    """What a pass did. `failure` is what ended the acting early (None: everything decided was tried)."""

    launched_tasks: tuple[str, ...] = ()
    drained: int = 0
    stopped: int = 0
    deleted: int = 0
    enabled: int = 0
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    failure: Exception | None = field(default=None, compare=False)

    @property
    def launched(self) -> int:
        return len(self.launched_tasks)


@dataclass(slots=True)
class _Tally:
    launched_tasks: list[str] = field(default_factory=list)
    drained: int = 0
    stopped: int = 0
    deleted: int = 0
    enabled: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def freeze(self, failure: Exception | None) -> ActResult:
        return ActResult(
            tuple(self.launched_tasks),
            self.drained,
            self.stopped,
            self.deleted,
            self.enabled,
            tuple(self.errors),
            tuple(self.warnings),
            failure,
        )


class Actor:
    """Acts for one pass over one pool; lives for that pass only."""

    def __init__(
        self,
        pool: str,
        pool_id: int,
        *,
        ado: AdoPort,
        compute: Compute,
        history: History | None,
        token: str,
        ends_at: float,
        monotonic: Monotonic,
        guard: Guard | None = None,
    ) -> None:
        self._pool = pool
        self._pool_id = pool_id
        self._ado = ado
        self._compute = compute
        self._history = history
        self._token = token
        self._ends_at = ends_at
        self._monotonic = monotonic
        self._guard = guard
        self._tally = _Tally()

    def act(self, decision: Decision) -> ActResult:
        try:
            self._act(decision)
        except AdoAuthError:
            raise
        except Exception as exc:  # one pool's failure must not stop the others: the caller reports it
            return self._tally.freeze(exc)
        return self._tally.freeze(None)

    def _in_time(self, what: str) -> None:
        """No action starts after the deadline: the lease may be about to expire, and another pass may then
        be observing; nor once the guard refuses (the lease is no longer ours)."""
        if self._monotonic() >= self._ends_at:
            raise PassDeadlineError(f"pass deadline reached before: {what}")
        if self._guard is not None:
            self._guard(what)

    def _act(self, decision: Decision) -> None:
        if self._history is not None and decision.history is not None:
            # Recorded by the lease holder before acting, as the demand it saw (acting may fail part-way).
            self._history.save(self._pool, decision.history)
        plan, tally, ado, pool_id = decision.plan, self._tally, self._ado, self._pool_id
        if plan.launch_count > 0:
            self._in_time("launch")
            result = self._compute.launch(self._pool, plan.launch_count, token=self._token)
            tally.launched_tasks = [task.task_arn for task in result.started]
            tally.errors.extend(f"{LAUNCH_ERROR}{failure}" for failure in result.failures)
            # Why Spot refused matters to the operator: a shortage passes, a platform version or CPU
            # architecture that FARGATE_SPOT does not take will refuse every launch until changed.
            if (fallback := result.fallback_warning()) is not None:
                tally.warnings.append(fallback)
        for enable in plan.enable:
            self._in_time(f"enable {enable.agent_name}")
            ado.set_agent_enabled(pool_id, enable.agent_id, True)
            tally.enabled += 1
        for drain in plan.drain:
            self._in_time(f"drain {drain.agent_name}")
            if self._drain(drain):
                tally.drained += 1
        for stop in plan.stop:
            self._in_time(f"stop {stop.task_arn}")
            if self._stop(stop):
                tally.stopped += 1
        for delete in plan.delete:
            self._in_time(f"delete {delete.agent_name}")
            fresh = ado.get_agent(pool_id, delete.agent_id)
            if fresh is None:
                continue  # already gone
            if fresh.busy or fresh.status == "online":
                tally.warnings.append(f"agent {fresh.name} is {_state(fresh)} again; not deleted")
                continue
            if ado.delete_agent(pool_id, delete.agent_id):
                tally.deleted += 1

    def _drain(self, drain: Drain) -> bool:
        """Read, disable, read again, stop only if still idle; otherwise enable again. Never disables an
        agent that the read just before showed busy, never stops one that is busy."""
        ado, pool_id = self._ado, self._pool_id
        fresh = ado.get_agent(pool_id, drain.agent_id)
        if fresh is not None and fresh.busy:
            self._tally.warnings.append(f"agent {fresh.name} took a job since the pass began; not drained")
            return False
        if fresh is not None:
            ado.set_agent_enabled(pool_id, drain.agent_id, False)
            fresh = ado.get_agent(pool_id, drain.agent_id)
        if fresh is None:
            # Gone: its task, if any, no longer has an agent to wait for.
            if drain.task_arn:
                reason = f"adoscale: agent {drain.agent_name} vanished while draining"
                self._compute.stop(self._pool, drain.task_arn, reason)
            return True
        if fresh.busy or drain.task_arn is None:
            ado.set_agent_enabled(pool_id, drain.agent_id, True)
            if fresh.busy:
                self._tally.warnings.append(f"agent {fresh.name} took a job while draining; enabled again")
            return False
        self._compute.stop(self._pool, drain.task_arn, f"adoscale: {drain.reason}")
        return True

    def _stop(self, stop: StopTask) -> bool:
        """Stop a task whose agent is not working, after reading that agent again by name: a task whose
        agent came online (or took a job) since the pass began is left alone."""
        if stop.agent_name:
            fresh = [
                a
                for a in self._ado.list_agents(self._pool_id, name=stop.agent_name)
                if a.name.lower() == stop.agent_name.lower()
            ]
            working = [a for a in fresh if a.busy or a.status == "online"]
            if working:
                self._tally.warnings.append(f"agent {working[0].name} is {_state(working[0])} now; task not stopped")
                return False
        self._compute.stop(self._pool, stop.task_arn, f"adoscale: {stop.reason}")
        return True


def _state(agent: Agent) -> str:
    return "busy" if agent.busy else str(agent.status or "unknown")
