"""The record behind the history port (`adoscale.ports.History`): the warm pool's demand, and what the pool's
passes have counted for the per-job and per-agent metrics (`Watermark`, `adoscale.history.seen`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from adoscale.scaling.warm import Demand

MAX_ARRIVALS = 20_000  # bounds an item: about 200 KB of DynamoDB numbers at most


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
    seen a pass later, from being lost. Never counted yet (`at` None): every event seen is new."""

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
            return self  # not reached: every event counted is `new`, so at or past the mark
        kept = self.ids if newest == self.at else ()
        return Watermark(newest, tuple(sorted({*kept, *(key for key, stamp in events if stamp == newest)})))


@dataclass(slots=True)
class HistoryRecord:
    arrivals: list[datetime] = field(default_factory=list)
    max_request_id: int = 0  # ADO request ids grow: anything at or below was counted already
    idle_day: str = ""  # the UTC date `idle_seconds` belongs to
    idle_seconds: float = 0.0
    last_pass: datetime | None = None
    # For the metrics, kept for every pool (with or without a warm pool): jobs counted as assigned (request
    # ids) and agents counted as online (agent ids).
    jobs_counted: Watermark = field(default_factory=Watermark)
    agents_counted: Watermark = field(default_factory=Watermark)

    def copy(self) -> HistoryRecord:
        """An independent copy, as `copy.deepcopy` makes one: the arrivals list is the record's only mutable
        part (datetimes are immutable), so copying it is enough. A deep copy of two weeks of arrivals (36
        million calls a day for a busy pool) was most of a warm pool's pass CPU."""
        return replace(self, arrivals=list(self.arrivals))

    def demand(self, now: datetime) -> Demand:
        idle = self.idle_seconds if self.idle_day == now.date().isoformat() else 0.0
        return Demand(arrivals=tuple(self.arrivals), idle_agent_seconds_today=idle)


def trim(record: HistoryRecord, now: datetime, keep_days: int) -> HistoryRecord:
    horizon = now - timedelta(days=keep_days + 1)
    record.arrivals = [t for t in record.arrivals if t > horizon][-MAX_ARRIVALS:]
    return record


def observe(record: HistoryRecord, jobs: Iterable[tuple[int, datetime]], idle_agents: int, now: datetime) -> None:
    """Count new arrivals (by request id) and the idle agent time since the pool's last pass."""
    new = sorted((rid, at) for rid, at in jobs if rid > record.max_request_id)
    # In UTC's own tzinfo, as the stored arrivals and the clock are: the job times decoded from ADO carry
    # pydantic's, and a comparison of datetimes with different tzinfo objects asks each for its offset,
    # which made the forecast's searches over two weeks of arrivals ten times slower.
    record.arrivals.extend(at.astimezone(UTC) for _, at in new)
    if new:
        record.max_request_id = new[-1][0]
    today = now.date().isoformat()
    if record.idle_day != today:
        record.idle_day, record.idle_seconds = today, 0.0
    if record.last_pass is not None and idle_agents > 0:
        # At most a few minutes per pass: a long gap (the controller was down) is not idle time we know of.
        gap = min(300.0, max(0.0, (now - record.last_pass).total_seconds()))
        record.idle_seconds += idle_agents * gap
    record.last_pass = now
