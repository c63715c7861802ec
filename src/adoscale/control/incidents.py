"""Failing-pass incidents: one alert when a pool's passes begin failing, not one per failing pass. Pure.

A pool whose passes keep failing (a broken ECS cluster, a revoked scope, a pool deleted in Azure DevOps) used
to alert for every failed pass: four messages a minute, 5,760 a day, and an operator mutes the topic and
misses the next real alert. Now a failing-pass incident per pool:

- it opens at the first pass that fails (after the workflow's retries): one alert, naming the pool and the
  one-line reason (redacted, never the PAT);
- it stays open while passes keep failing: no message, except a reminder every `REMIND_EVERY` (a day by
  default; None: never), so an incident that outlives a muted inbox is not forgotten;
- it closes at the first pass that succeeds: one "recovered" message, so that the operator who got the alert
  knows the pool works again without looking (silence would read the same as a pool still failing), and a
  later failure opens a new incident, which alerts again.

The same holds for the workflow's two other alerts that used to come with every failure (`IncidentKind`):

- **failing rounds** (`ROUNDS`): a round's first step reads the organization's parallel-job limit for every
  pool, so a broken organization URL or a revoked PAT fails every round, 4 a minute. One incident for the
  deployment (not per pool: the round fails before any pool is visited, and every round fails alike); it closes
  at the first round that visits pools again.
- **failing task waits** (`WAITS`): after a launch the waiter reads the pool's new tasks; when that read keeps
  failing (ECS or EC2 refusing DescribeTasks/DescribeInstances, the waiter function failing), every launch
  alerted. One incident per pool (the waiter reads one pool's compute, which can fail for one pool only); it
  closes at the pool's next wait that completes.

The decision (`failed`, `succeeded`) is pure: the stored incident, the clock's now, and what happened, in; the
incident to store and what to tell, out. `record` applies it to a store (`adoscale.history.incidents`),
reading again when another writer came first. `PassIncidents` is the same for a long-running process's logs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from adoscale.history.incidents import PREFIX, IncidentStore, MemoryIncidents, PassIncident
from adoscale.secrets import redact

REMIND_EVERY = timedelta(hours=24)
MAX_REASON_CHARS = 300
SAVE_ATTEMPTS = 5

Notice = Literal["opened", "reminder", "closed", ""]


@dataclass(frozen=True, slots=True)
class IncidentKind:
    """What fails, in the words of its messages, and where its record lives (`prefix` of the lease table's item,
    followed by the pool's name, or nothing for the deployment's one incident). The message templates are
    formatted with `pool`, `reason`, `every` (the reminder's clause, or nothing), `since` (how long it has
    lasted), `failures` and `opened` (when it opened, ISO 8601)."""

    name: str
    prefix: str
    opened: str
    reminder: str
    closed: str
    subjects: dict[str, str] = field(hash=False)  # by notice ("opened", "reminder", "closed")


PASSES = IncidentKind(
    name="pass",
    prefix=PREFIX,
    opened="pool {pool}: its passes fail (one alert until a pass succeeds{every}): {reason}",
    reminder="pool {pool}: its passes still fail, for {since} ({failures} failed passes since {opened}): {reason}",
    closed="pool {pool}: its passes succeed again, after {since} and {failures} failed passes (the last: {reason})",
    subjects={
        "opened": "adoscale: a pool's passes fail",
        "reminder": "adoscale: a pool's passes still fail",
        "closed": "adoscale: a pool's passes succeed again",
    },
)
ROUNDS = IncidentKind(
    name="round",
    prefix="incident-round",
    opened="rounds fail, no pool is observed (one alert until a round succeeds{every}): {reason}",
    reminder="rounds still fail, no pool is observed, for {since} ({failures} failed rounds since {opened}): {reason}",
    closed="rounds succeed again, after {since} and {failures} failed rounds (the last: {reason})",
    subjects={
        "opened": "adoscale: rounds fail",
        "reminder": "adoscale: rounds still fail",
        "closed": "adoscale: rounds succeed again",
    },
)
WAITS = IncidentKind(
    name="wait",
    prefix="incident-wait#",
    opened="pool {pool}: the wait for its launched tasks fails (one alert until a wait succeeds{every}): {reason}",
    reminder=(
        "pool {pool}: the wait for its launched tasks still fails, for {since} ({failures} failed waits since "
        "{opened}): {reason}"
    ),
    closed=(
        "pool {pool}: the wait for its launched tasks succeeds again, after {since} and {failures} failed waits "
        "(the last: {reason})"
    ),
    subjects={
        "opened": "adoscale: a pool's task wait fails",
        "reminder": "adoscale: a pool's task wait still fails",
        "closed": "adoscale: a pool's task wait succeeds again",
    },
)
KINDS = {kind.name: kind for kind in (PASSES, ROUNDS, WAITS)}


@dataclass(frozen=True, slots=True)
class Transition:
    """What an outcome does to the incident: the incident to store (None: none open) and what to tell the
    operator (`notice`, "" for nothing; `message`, one line; `subject`, the kind's for the notice)."""

    incident: PassIncident | None
    notice: Notice = ""
    message: str = ""
    kind: IncidentKind = PASSES

    @property
    def alert(self) -> bool:
        return self.notice != ""

    @property
    def subject(self) -> str:
        return self.kind.subjects.get(self.notice, "")


SUBJECTS: dict[str, str] = PASSES.subjects


def one_line_reason(reason: str) -> str:
    """The reason as an alert carries it: one line, no secret, bounded."""
    text = redact(" ".join(reason.split()))
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def _since(opened_at: datetime, now: datetime) -> str:
    minutes = max(0, int((now - opened_at).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def failed(
    pool: str,
    current: PassIncident | None,
    reason: str,
    now: datetime,
    remind_every: timedelta | None = REMIND_EVERY,
    kind: IncidentKind = PASSES,
) -> Transition:
    """A pass of `pool` (or what `kind` names) failed, after its retries, for `reason` at `now`."""
    reason = one_line_reason(reason)
    if current is None:
        incident = PassIncident(opened_at=now, failures=1, reason=reason, last_failure_at=now, alerted_at=now)
        every = f"; a reminder every {_hours(remind_every)}" if remind_every else ""
        return Transition(incident, "opened", kind.opened.format(pool=pool, every=every, reason=reason), kind)
    incident = replace(
        current, failures=current.failures + 1, reason=reason, last_failure_at=max(now, current.last_failure_at)
    )
    if remind_every is not None and now - current.alerted_at >= remind_every:
        message = kind.reminder.format(
            pool=pool,
            since=_since(current.opened_at, now),
            failures=incident.failures,
            opened=current.opened_at.isoformat(timespec="seconds"),
            reason=reason,
        )
        return Transition(replace(incident, alerted_at=now), "reminder", message, kind)
    return Transition(incident, kind=kind)


def succeeded(pool: str, current: PassIncident | None, now: datetime, kind: IncidentKind = PASSES) -> Transition:
    """A pass of `pool` (or what `kind` names) succeeded at `now`: the incident, if one is open, is over."""
    if current is None:
        return Transition(None, kind=kind)
    message = kind.closed.format(
        pool=pool, since=_since(current.opened_at, now), failures=current.failures, reason=current.reason
    )
    return Transition(None, "closed", message, kind)


def _hours(every: timedelta | None) -> str:
    hours = (every or timedelta()).total_seconds() / 3600
    return f"{hours:g} h"


class IncidentConflictError(RuntimeError):
    """The incident kept changing under this writer (`SAVE_ATTEMPTS` times): the caller alerts anyway."""


def record(store: IncidentStore, pool: str, step: Callable[[PassIncident | None], Transition]) -> Transition:
    """`step` applied to the pool's stored incident and its result stored, read again and decided again while
    another writer comes first (two rounds' failures at once open one incident: the second sees it open)."""
    for _ in range(SAVE_ATTEMPTS):
        current, version = store.load(pool)
        transition = step(current)
        if transition.incident == current or store.save(pool, transition.incident, version):
            return transition
    raise IncidentConflictError(f"pool {pool}: the incident record kept changing ({SAVE_ATTEMPTS} attempts)")


class PassIncidents:
    """The pools of a long-running process in a failing-pass incident (for its logs): the same decision over
    the process's own memory, keyed by (organization, pool)."""

    def __init__(self, remind_every: timedelta | None = REMIND_EVERY) -> None:
        self._store = MemoryIncidents()
        self._remind_every = remind_every

    def failed(self, key: tuple[str, str], reason: str, now: datetime) -> Transition:
        return record(self._store, "\0".join(key), lambda cur: failed(key[1], cur, reason, now, self._remind_every))

    def succeeded(self, key: tuple[str, str], now: datetime) -> Transition:
        return record(self._store, "\0".join(key), lambda cur: succeeded(key[1], cur, now))
