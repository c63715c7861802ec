"""The record behind the history port (`adoscale.ports.History`): the warm pool's demand (the jobs' arrival
times, the warm agents' idle time today, how long the pool's last jobs ran, how long its last agents took to
come online), and what the pool's passes have counted for the per-job and per-agent metrics (`Watermark`,
`adoscale.history.seen`)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from adoscale.scaling.warm import Demand

MAX_ARRIVALS = 20_000  # bounds an item: about 200 KB of DynamoDB numbers at most
DURATIONS_KEPT = 50  # the finished jobs' durations a record keeps, the newest
DURATIONS_NEEDED = 5  # the fewest durations the forecast is given a typical job length from
# The agents' start-ups (launch to online) a record keeps, the newest: fewer than the durations, because a
# start-up changes with the image, the instance type or the capacity available, and a median over the last 20
# agents follows such a change within one busy hour; a pool launches no agent for days only when it is idle.
STARTUPS_KEPT = 20
STARTUPS_NEEDED = 5  # the fewest start-ups the forecast is given a learnt start-up from
# The ids of the agents counted online that a record keeps (`HistoryRecord.started_agents`), the highest (ADO's
# agent ids grow): twice the most tasks a pool may have (config's MAX_AGENTS, 1000), room for the dead
# registrations a pass has yet to delete. About 13 KB of DynamoDB numbers at most.
STARTED_KEPT = 2_000


class HistoryCorruptError(ValueError):
    """A pool's stored history cannot be read back (a damaged or hand-edited item): the pass ignores it, starts
    the pool's history afresh and says so, rather than failing the pool."""


@dataclass(frozen=True, slots=True)
class Watermark:
    """What a pool's passes have counted of one kind of event (a job assigned, an agent come online), each
    stamped by the one clock that stamps them all (Azure DevOps's `assignTime`, `statusChangedOn`): the newest
    stamp counted, and the ids counted at exactly that stamp. An event is counted once, by the first pass that
    sees it with a stamp past the mark, whichever controller runs that pass (the record lives beside the lease).

    No controller clock is compared with the service's, so a controller whose clock is wrong counts nothing
    twice and misses nothing; the ids at the mark keep two events stamped in the same instant, the second one
    seen a pass later, from being lost. Never counted yet (`at` None): every event seen is new.

    An agent's stamp moves on every connectivity change, so the agents are counted by their ids instead
    (`HistoryRecord.started_agents`); their mark is still moved past every agent counted, and decides for a
    record saved before the ids were kept (and for an earlier version reading this one)."""

    at: datetime | None = None
    ids: tuple[int, ...] = ()

    def new(self, key: int, stamp: datetime) -> bool:
        return self.at is None or stamp > self.at or (stamp == self.at and key not in self.ids)

    def after(self, counted: Iterable[tuple[int, datetime]]) -> Watermark:
        """The mark once `counted` (id, stamp; each `new`) are counted too."""
        events = list(counted)
        if not events:
            return self
        newest = max(stamp for _, stamp in events)
        if self.at is not None and self.at > newest:
            return self  # an agent counted by its id, online for the first time with an older stamp
        kept = self.ids if newest == self.at else ()
        return Watermark(newest, tuple(sorted({*kept, *(key for key, stamp in events if stamp == newest)})))


@dataclass(slots=True)
class HistoryRecord:
    arrivals: list[datetime] = field(default_factory=list)
    max_request_id: int = 0  # ADO request ids grow: anything at or below was counted already
    idle_day: str = ""  # the date `idle_seconds` belongs to: the warm pool's local day (`local_day`), UTC's by default
    idle_seconds: float = 0.0
    last_pass: datetime | None = None
    # For the metrics, kept for every pool (with or without a warm pool): jobs counted as assigned (request
    # ids) and agents counted as online (agent ids).
    jobs_counted: Watermark = field(default_factory=Watermark)
    agents_counted: Watermark = field(default_factory=Watermark)
    # How long the pool's jobs run (`observe`): the jobs last seen assigned and not finished (request id ->
    # the service's assign time), the seconds each of the last DURATIONS_KEPT finished jobs ran (oldest
    # first), and the finished jobs whose exact finish time was counted (by the service's finish stamps).
    running: dict[int, datetime] = field(default_factory=dict)
    durations: list[float] = field(default_factory=list)
    finished_counted: Watermark = field(default_factory=Watermark)
    # The seconds each of the pool's last STARTUPS_KEPT agents took from launch to online (oldest first), each
    # agent once: the agents the metrics count (`agents_counted`, `adoscale.history.seen.first_seen`).
    startups: list[float] = field(default_factory=list)
    # The ids of the agents counted online that the last pass saw still registered (the highest STARTED_KEPT;
    # an agent's id stays its own until its registration is deleted): an agent among them is never counted
    # again, whatever its `statusChangedOn` (ADO stamps it anew when an agent loses its connection and gets it
    # back). None in a record saved before they were kept: `agents_counted` alone decides, as it did then.
    started_agents: frozenset[int] | None = field(default_factory=frozenset)

    def copy(self) -> HistoryRecord:
        """An independent copy, as `copy.deepcopy` makes one: the arrivals, the running jobs, the durations and
        the start-ups are the record's only mutable parts (datetimes, marks, frozensets are immutable), so copying them
        is enough. A deep copy of two weeks of arrivals (36 million calls a day for a busy pool) was most of a
        warm pool's pass CPU."""
        return replace(
            self,
            arrivals=list(self.arrivals),
            running=dict(self.running),
            durations=list(self.durations),
            startups=list(self.startups),
        )

    def demand(self, now: datetime, today: str | None = None) -> Demand:
        """The forecast's input at `now`. The idle time is today's only if it was counted for `today` (an ISO
        date: the pool's local day, as given to `observe`; `now`'s UTC date unless given)."""
        idle = self.idle_seconds if self.idle_day == (today or now.date().isoformat()) else 0.0
        return Demand(
            arrivals=tuple(self.arrivals),
            idle_agent_seconds_today=idle,
            job_seconds=self.job_seconds(),
            startup_s=self.startup_seconds(),
        )

    def job_seconds(self) -> float | None:
        """How long the pool's jobs typically run: the median of the kept durations (robust to the odd job
        that hangs or fails at once), None until DURATIONS_NEEDED have finished."""
        if len(self.durations) < DURATIONS_NEEDED:
            return None
        return statistics.median(self.durations)

    def startup_seconds(self) -> float | None:
        """How long the pool's agents typically take from launch to online: the median of the kept start-ups,
        None until STARTUPS_NEEDED have come online (`Demand.startup_s` says why the median)."""
        if len(self.startups) < STARTUPS_NEEDED:
            return None
        return statistics.median(self.startups)

    def with_startups(self, seconds: Iterable[float]) -> HistoryRecord:
        """The record keeping the start-ups of the agents just counted online too (in the order they came
        online), the newest STARTUPS_KEPT; this record is left as it is (the pass's observation holds it)."""
        return replace(self, startups=[*self.startups, *seconds][-STARTUPS_KEPT:])


def trim(record: HistoryRecord, now: datetime, keep_days: int) -> HistoryRecord:
    horizon = now - timedelta(days=keep_days + 1)
    record.arrivals = [t for t in record.arrivals if t > horizon][-MAX_ARRIVALS:]
    return record


def observe(
    record: HistoryRecord,
    jobs: Iterable[tuple[int, datetime]],
    idle_agents: int,
    now: datetime,
    assigned: Iterable[tuple[int, datetime, datetime]] = (),
    finished: Iterable[tuple[int, datetime]] = (),
    today: str | None = None,
) -> None:
    """Count new arrivals (by request id), the idle agent time since the pool's last pass, and how long the
    jobs that finished since then ran (`finish_jobs`).

    `today`: the ISO date the idle time counts for, the warm pool's local day (`adoscale.scaling.warm.local_day`:
    its daily budget starts at its own midnight); `now`'s UTC date unless given.

    `jobs` (request id, queue time): the pool's unfinished requests that its agents can run. `assigned`
    (request id, queue time, assign time): every job the pass's reads show assigned, finished ones included
    (`Observation.assigned_jobs`); `finished` (request id, finish time): the requests the reads show finished
    (`Observation.finished_jobs`)."""
    listed = list(jobs)
    new = sorted((rid, at) for rid, at in listed if rid > record.max_request_id)
    # In UTC's own tzinfo, as the stored arrivals and the clock are: the job times decoded from ADO carry
    # pydantic's, and a comparison of datetimes with different tzinfo objects asks each for its offset,
    # which made the forecast's searches over two weeks of arrivals ten times slower.
    record.arrivals.extend(at.astimezone(UTC) for _, at in new)
    if new:
        record.max_request_id = new[-1][0]
    finish_jobs(record, assigned, finished, now, unfinished={rid for rid, _ in listed})
    today = today or now.date().isoformat()
    if record.idle_day != today:
        record.idle_day, record.idle_seconds = today, 0.0
    if record.last_pass is not None and idle_agents > 0:
        # At most a few minutes per pass: a long gap (the controller was down) is not idle time we know of.
        gap = min(300.0, max(0.0, (now - record.last_pass).total_seconds()))
        record.idle_seconds += idle_agents * gap
    record.last_pass = now


def finish_jobs(
    record: HistoryRecord,
    assigned: Iterable[tuple[int, datetime, datetime]],
    finished: Iterable[tuple[int, datetime]],
    now: datetime,
    *,
    unfinished: set[int] | frozenset[int] = frozenset(),
) -> None:
    """Add the durations of the jobs finished since the pool's last pass (`record.last_pass`, not yet moved
    to `now`) to `record.durations`, and keep the jobs assigned and unfinished now in `record.running`.

    A job whose finish the reads show (`finished`: an agent's last completed request) ran its finish - its
    assign time exactly, both the service's stamps; it is counted once, by the pass that first sees it
    finished (`record.finished_counted`, a mark on the finish stamps like the metrics' own), or, when it was
    running at the last pass, by this one. A job last seen running that the reads no longer show assigned
    (the agent ran it, removed its registration and exited: its last completed request went with it)
    finished between the two passes: at their midpoint, as far as is known (half a pass interval off at most).
    One still among the pool's unfinished requests (`unfinished`: handed back to the queue) has not finished:
    it leaves `running` uncounted, and comes back with its new assign time when an agent takes it again. The
    exact and the estimated are never both counted for one job."""
    assign_at = {rid: assign for rid, _, assign in assigned}
    finish_at = {rid: at for rid, at in finished if rid in assign_at}
    ran: list[tuple[datetime, float]] = []  # (finished at, seconds), for the order kept
    counted: list[tuple[int, datetime]] = []
    for rid, at in sorted(finish_at.items(), key=lambda item: (item[1], item[0])):
        fresh = record.finished_counted.new(rid, at)
        # One the last pass saw running is this pass's to count, even with a stamp behind the mark (finish
        # stamps need not be seen in order); it leaves `running`, so nothing counts it again.
        if fresh or rid in record.running:
            ran.append((at, max(0.0, (at - assign_at[rid]).total_seconds())))
        if fresh:
            counted.append((rid, at))
    record.finished_counted = record.finished_counted.after(counted)
    midpoint = now if record.last_pass is None else record.last_pass + (now - record.last_pass) / 2
    for rid, assign in record.running.items():
        if rid not in assign_at and rid not in unfinished:
            ran.append((midpoint, max(0.0, (midpoint - assign).total_seconds())))
    if ran:
        ran.sort(key=lambda item: item[0])
        record.durations = [*record.durations, *(seconds for _, seconds in ran)][-DURATIONS_KEPT:]
    record.running = {rid: assign.astimezone(UTC) for rid, assign in assign_at.items() if rid not in finish_at}
