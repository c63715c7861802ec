"""The warm pool: how many idle agents to keep ready, from a schedule or from recent demand. Pure.

A warm agent turns a job's wait from a Fargate cold start (30-60 s to RUNNING, 10-20 s to connect) into
seconds, and costs its idle time. The size is an input to the engine (`PoolPolicy.standby_agents`), so
every rule of docs/scaling.md still holds: warm agents are launched, kept and drained like standby ones.

- `schedule`: a fixed number of agents while a cron window is open (in its time zone).
- `predictive`: the arrivals expected within one cold start, at a chosen quantile of a Poisson count,
  from the largest of four estimates (`expected_arrivals`; docs/performance.md, "What the forecast learns
  now"):
  - seasonal: the arrivals in the coming cold start at the same time of day (on the clock of the pool's
    `timezone`, UTC by default: its weekdays and weekends too), as many as recur on most of
    the recent days that the history covers, above what the stream those days saw at this hour explains
    (so agents are warm before a recurring burst, and neither one unusual day nor a stream's chance
    arrivals warm the pool); looking up to a minute further ahead for a burst that comes early (as much
    of it as the jobs' idle allowance pays for, `lead_s`), and, inside a recurring burst, expecting what
    today has not yet brought of it (one that runs late);
  - a burst due: a recurring burst whose start moves by minutes from day to day, begun by now on most
    earlier days and not yet today (`due_burst`);
  - a burst in progress, from today's last arrivals alone, where the stream would rarely bring them
    (`burst_in_progress`): it works from a pool's first day;
  - today's trickle: the rate over the last `window_s` of the arrivals outside bursts.
  The recent estimates count only arrivals the seasonal forecast did not foresee, so a recurring burst does
  not keep agents warm for the window after it. No recent arrival and no recurring one: the size falls to
  zero. Inside today's recurring burst, jobs too short for the quantile keep the agents their idle
  allowance pays for at the burst's rate (`paced_agents`), up to the rest of its usual size.

Both stop at `max_agents`, and at nothing once the day's idle agent-hours budget is spent. Idle agents
beyond the size drain after `drain_after_s` (`with_warm_pool`).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo

from adoscale.scaling.model import PoolPolicy


class WarmMode(StrEnum):
    OFF = "off"
    SCHEDULE = "schedule"
    PREDICTIVE = "predictive"


@dataclass(frozen=True, slots=True)
class WarmSchedule:
    cron: str  # minute hour day-of-month month day-of-week, when the window opens
    duration_minutes: int
    agents: int
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class WarmPolicy:
    mode: WarmMode = WarmMode.OFF
    max_agents: int = 2
    budget_agent_hours_per_day: float | None = None
    schedules: tuple[WarmSchedule, ...] = ()
    quantile: float = 0.8
    horizon_s: float = 90.0  # one cold start plus the time to notice the job
    window_s: float = 600.0
    seasonal_days: int = 7
    drain_after_s: float = 60.0  # idle agents above the target (and the queue) drain after this long idle
    # The idle agent-time the warm pool may cost per minute of the pool's jobs (None: the quantile alone).
    # Where jobs are short, the quantile falls to what that allows (`affordable_quantile`).
    idle_share: float | None = None
    # An agent's launch to online: what each job's own agent idles, warm or not. With `learn_startup`, only
    # until the pool's history has measured its agents' (`Demand.startup_s`); without, always.
    startup_s: float = 60.0
    learn_startup: bool = True
    # The IANA zone whose days the forecast compares (the same wall-clock time, weekdays and weekends, the
    # day's midnight): where the pool's demand follows people's working day. UTC: its days are 24 h apart.
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Demand:
    """What the forecast needs to know of the past: job arrival times (oldest first or in any order), the
    warm agents' idle time already spent today, how long the pool's jobs typically run (seconds; None
    until enough have been seen to finish), and how long its agents typically take from launch to online
    (seconds; None until enough have come online).

    The start-up is the median of the last agents' (`adoscale.history.base.HistoryRecord.startup_seconds`),
    not a high quantile: the forecast uses it as a cost, the idle each agent spends starting (`_spare_s`,
    `affordable_quantile`), and how far ahead agents are kept (`lookahead_s`), both about the typical agent;
    a high quantile would charge every agent the slowest one's start-up. The median is also robust to the odd
    agent whose start-up is measured wrong (one whose first connection was lost and regained between two
    passes, measured to the later one, or a clock skew that makes it zero), which a mean is not."""

    arrivals: Sequence[datetime] = ()
    idle_agent_seconds_today: float = 0.0
    job_seconds: float | None = None
    startup_s: float | None = None


@dataclass(frozen=True, slots=True)
class WarmTarget:
    agents: int
    reason: str


def warm_target(policy: WarmPolicy, demand: Demand, now: datetime) -> WarmTarget:
    if policy.mode is WarmMode.OFF:
        return WarmTarget(0, "warm pool off")
    budget = policy.budget_agent_hours_per_day
    if budget is not None and demand.idle_agent_seconds_today >= budget * 3600:
        return WarmTarget(0, f"idle budget of {budget:g} agent-hours spent today")
    if policy.mode is WarmMode.SCHEDULE:
        open_ = [s for s in policy.schedules if schedule_open(s, now)]
        size = max((s.agents for s in open_), default=0)
        reason = f"schedule {open_[0].cron!r} open" if open_ else "no schedule open"
    else:
        policy, startup = startup_policy(policy, demand)
        ahead = replace(policy, horizon_s=lookahead_s(policy, demand.job_seconds))
        estimate = _expected(ahead, demand.arrivals, now, lead_s(policy, demand.job_seconds))
        expected, why = estimate.arrivals, estimate.why
        q = affordable_quantile(policy, demand.job_seconds, in_burst=estimate.burst)
        counted = poisson_quantile(expected, q)
        paced = _paced_size(policy, demand.job_seconds, estimate.under_way, q)
        size = max(counted, paced)
        if estimate.at_most is not None:
            # Today's recurring burst (under way, or in progress past where earlier days' ended) brings at
            # most the rest of its usual size, however its rate's count varies.
            size = min(size, estimate.at_most)
        reason = f"{why}: {expected:.2f} arrivals expected within {ahead.horizon_s:.0f} s"
        if q < policy.quantile or ahead.horizon_s < policy.horizon_s:
            # The jobs' length and the start-up decided the share or the look-ahead: say which start-up.
            reason += f", start-up {policy.startup_s:.0f} s {startup}"
        reason += f", q={q:.2g}"
        if q < policy.quantile:
            reason += f" (jobs of {demand.job_seconds:.0f} s)"
        if paced > counted:
            reason += f"; {paced} paced to today's recurring burst"
    return WarmTarget(min(size, policy.max_agents), reason)


def startup_policy(policy: WarmPolicy, demand: Demand) -> tuple[WarmPolicy, str]:
    """The policy with the start-up the forecast uses, and where it came from: the pool's agents' measured
    one (`Demand.startup_s`) where the policy learns it and enough agents have come online, else the
    configured `startup_s` (given, or assumed until learnt)."""
    if not policy.learn_startup:
        return policy, "configured"
    if demand.startup_s is None:
        return policy, "assumed until learnt"
    return replace(policy, startup_s=demand.startup_s), "learnt"


def affordable_quantile(policy: WarmPolicy, job_seconds: float | None, *, in_burst: bool = False) -> float:
    """The share of likely arrivals the warm pool covers: `quantile`, or less where the pool's jobs are too
    short to pay for it (`idle_share` set and their typical length known).

    Each job earns `idle_share` of its length in idle agent-time; its own agent's start-up spends
    `startup_s` of that whether it was warm or not. A warm agent no job takes idles its start-up and
    `drain_after_s` before it drains. With `spare` the idle a job leaves and `waste` what an untaken agent
    costs, the share is the newsvendor's critical ratio spare / (spare + waste): agents kept past the
    point where each more one is likelier to go untaken than that. Jobs of 40 minutes leave 19 minutes
    each (`quantile` stays); jobs of 3 minutes leave 30 s, a share of 0.2; jobs of 2 minutes or less leave
    nothing, and no agent is kept warm for them (at idle_share 0.5, start-up 60 s, drain 60 s).

    `in_burst`: the size is for a burst (in progress, due or recurring), whose estimate ends with it. Where a
    job's spare pays for an untaken agent in full (`horizon_s` of waiting, its start-up and its drain: jobs of
    about 9 minutes), such a size is kept at `quantile`: each agent no arrival takes within the horizon costs
    at most that before the burst's next arrivals take it or, the burst over, it drains. A trickle's estimate
    does not end: its untaken agent waits the gaps between jobs all day, which the ratio prices in (at
    `quantile` for every long job, the idle goal broke on 6 of 244 long-job traces, 4 of them trickles:
    docs/performance.md, "Tried and dropped ... D")."""
    spare = _spare_s(policy, job_seconds)
    if spare is None:
        return policy.quantile
    spare = max(0.0, spare)
    waste = policy.startup_s + policy.drain_after_s
    if in_burst and spare >= policy.horizon_s + waste:
        return policy.quantile
    return min(policy.quantile, spare / (spare + waste))


def lookahead_s(policy: WarmPolicy, job_seconds: float | None) -> float:
    """How far ahead the forecast counts arrivals: `horizon_s` (a cold start and the time to notice a job),
    or only `startup_s` where a job's idle allowance after its own agent's start-up is less than the rest
    of the horizon (`idle_share` set, jobs of under 3 minutes at the defaults). Agents kept a horizon
    ahead of their jobs wait the notice time for them, which such jobs cannot pay for; kept a start-up
    ahead, they come online about when their jobs arrive."""
    spare = _spare_s(policy, job_seconds)
    if spare is None or spare >= policy.horizon_s - policy.startup_s:
        return policy.horizon_s
    return min(policy.horizon_s, policy.startup_s)


def lead_s(policy: WarmPolicy, job_seconds: float | None) -> float:
    """How early a recurring burst may come and still find agents warm for it: SEASONAL_LEAD_S, or less where
    a job's idle allowance cannot pay for it. Agents kept that far ahead of a burst that comes on time wait
    the lead for its first jobs, after their start-up and the look-ahead's notice time: what is left of the
    job's spare (`_spare_s`) after the notice. At `idle_share` 0.5 and a start-up of 60 s, jobs of 5
    minutes or more keep the whole minute, jobs of 4 minutes keep 30 s, jobs of 2.7 minutes (counted a
    start-up ahead, without the notice) 21 s. Five agents warm a minute early for `fanout-10`'s 2.7-minute
    jobs idled about 4 of its 50.5 allowed agent-minutes before its burst came."""
    spare = _spare_s(policy, job_seconds)
    if spare is None:
        return SEASONAL_LEAD_S
    notice = max(0.0, lookahead_s(policy, job_seconds) - policy.startup_s)
    return min(SEASONAL_LEAD_S, max(0.0, spare - notice))


def _paced_size(policy: WarmPolicy, job_seconds: float | None, under_way: UnderWay | None, q: float) -> int:
    """The agents kept for today's recurring burst under way where its jobs are too short for the quantile
    (`q` below it): as many of the rest of its usual size as `paced_agents` allows at its rate so far, each
    waiting on average PACE_SHARE of the job's spare idle (0 where no such burst is under way, or the jobs'
    length is not known).

    The look-ahead's count at a low share kept fewer agents than the burst brings within a start-up (5 to 7
    where 8 to 10 came on `fanout-10`), and the later jobs waited 12-40 s for agents launched after they came.
    Inside a burst whose rest is known, an agent no arrival takes within the horizon is taken by a later one
    of the same burst: it costs the wait, which the pacing prices, not a start-up and a drain."""
    spare = _spare_s(policy, job_seconds)
    if under_way is None or under_way.rate <= 0 or spare is None or q >= policy.quantile:
        return 0
    return paced_agents(under_way.rate, policy.startup_s, PACE_SHARE * max(0.0, spare), under_way.rest)


# What of a job's spare idle the pacing spends on its agent's wait: the rest is left for what the same
# allowance also pays, the lead before the burst (`lead_s`), start-ups longer than the median, and the agents
# that drain at its end. Pacing with the whole spare went over the idle goal where the median was already met
# (`fanout-1653`: 135.4 -> 179.3 of 174.9 agent-minutes; docs/performance.md, "A burst of short jobs paced").
PACE_SHARE = 0.5


def paced_agents(rate_per_s: float, startup_s: float, spare_s: float, most: int) -> int:
    """The most agents k (up to `most`) launched now whose k-th next arrival, at `rate_per_s`, keeps the
    k-th agent waiting on average no longer than `spare_s` once it is online after `startup_s`:
    E[(T_k - startup_s)+] <= spare_s, T_k ~ Gamma(k, rate_per_s) the k-th arrival's time.

    E[(T_k - s)+] is the integral of P(T_k > t) from s on, which is (1 / rate) * sum over i < k of
    P(N <= i), N ~ Poisson(rate * s): each term is one more arrival's share of the wait."""
    if rate_per_s <= 0 or most <= 0:
        return 0
    mean = rate_per_s * startup_s
    term = math.exp(-mean)  # P(N = i), from i = 0
    below = 0.0  # P(N <= i)
    waited = 0.0  # rate * E[(T_(i+1) - s)+]
    for i in range(most):
        below += term
        waited += below
        if waited / rate_per_s > spare_s:
            return i
        term *= mean / (i + 1)
    return most


def _spare_s(policy: WarmPolicy, job_seconds: float | None) -> float | None:
    """The idle a job leaves once its own agent's start-up is paid (negative: not even that); None where
    `idle_share` is not set or the jobs' length is not known yet."""
    if policy.idle_share is None or job_seconds is None:
        return None
    return policy.idle_share * job_seconds - policy.startup_s


def with_warm_pool(policy: PoolPolicy, target: WarmTarget, warm: WarmPolicy) -> PoolPolicy:
    """A pass's policy with the warm pool in it: the target raises the standby agents kept, and idle agents
    beyond it drain after `drain_after_s` rather than the pool's idle timeout. The forecast has already
    said they are not needed; waiting five minutes for each was much of what a warm pool wasted after a
    burst (docs/performance.md)."""
    return replace(
        policy,
        standby_agents=max(policy.standby_agents, target.agents),
        idle_timeout_seconds=min(policy.idle_timeout_seconds, math.ceil(warm.drain_after_s)),
    )


def expected_arrivals(policy: WarmPolicy, arrivals: Sequence[datetime], now: datetime) -> tuple[float, str]:
    """Expected arrivals in the next `horizon_s`, and which estimate gave them (`_expected`)."""
    estimate = _expected(policy, arrivals, now, SEASONAL_LEAD_S)
    if estimate.at_most is not None:
        return min(estimate.arrivals, float(estimate.at_most)), estimate.why
    return estimate.arrivals, estimate.why


@dataclass(frozen=True, slots=True)
class _Estimate:
    arrivals: float  # expected within the look-ahead
    why: str  # which estimate gave them
    burst: bool  # a burst's (due, recurring, under way or in progress), which ends with it; else the trickle's
    at_most: int | None = None  # today's recurring burst (under way or in progress): the most it has still to bring
    under_way: UnderWay | None = None  # today's recurring burst, whichever estimate gave the arrivals


def _expected(policy: WarmPolicy, arrivals: Sequence[datetime], now: datetime, early_s: float) -> _Estimate:
    """Expected arrivals in the next `horizon_s` (and `early_s` further for a recurring burst that comes
    early, `lead_s`): the largest of the recent rate, the seasonal count and a recurring burst under way
    (`burst_under_way`); which estimate gave them; and whether it is a burst's
    (due, recurring, under way or in progress), which ends with the burst, rather than the trickle's, which
    goes on (`affordable_quantile`).

    The seasonal count averages over the days the history covers (from the day of its oldest arrival),
    not over `seasonal_days` regardless: in a pool's first week, dividing three days of bursts by seven
    would forecast less than half of what every one of those days saw.

    The recent rate counts only the arrivals the seasonal forecast did not foresee: a recurring burst is
    the seasonal forecast's to serve, and counted again as a rate it would keep agents warm for the whole
    window after the burst has ended (what the warm pool spent most of its idle time on, docs/performance.md)."""
    times = sorted(arrivals)

    def count(start: datetime, end: datetime) -> int:  # arrivals in (start, end]
        return bisect_right(times, end) - bisect_right(times, start)

    horizon = timedelta(seconds=policy.horizon_s)
    zone = _zone(policy.timezone)

    def seasonal_counts(at: datetime, back: timedelta = timedelta(0), ahead: timedelta = timedelta(0)) -> list[int]:
        """Arrivals from `back` before `at` to `horizon` and `ahead` after it, at the same time on each
        comparable earlier day (`_earlier_days`)."""
        days = _earlier_days(at, policy.seasonal_days, times, back, zone)
        return [count(then - back, then + horizon + ahead) for then in days]

    lead = timedelta(seconds=SEASONAL_LEAD_S)
    # The stream the earlier days saw around this time of day (per second): the median count of the
    # STREAM_PARTS windows that make up STREAM_S around it, over those days, so a burst (in one or two of
    # them) is not part of it. What recurs only because a steady stream puts an arrival in most windows is
    # not a recurring burst.
    part = timedelta(seconds=STREAM_S / STREAM_PARTS)
    first = now - timedelta(seconds=STREAM_S / 2)
    parts = [c for j in range(STREAM_PARTS) for c in seasonal_counts(first + j * part, ahead=part - horizon)]
    stream = sorted(parts)[len(parts) // 2] / part.total_seconds() if parts else 0.0
    stream_window = stream * (policy.horizon_s + SEASONAL_LEAD_S)
    typical, unusual = poisson_quantile(stream_window, 0.5), poisson_quantile(stream_window, STREAM_UNUSUAL)

    def recurring(counts: Sequence[int]) -> int:
        """What recurs above the stream: a count that most days saw and that the stream alone brings on
        fewer than 1 - STREAM_UNUSUAL of them, less what the stream typically adds to it."""
        most = recurring_count(counts)
        return most - typical if most > unusual else 0

    @cache  # the last horizon's arrivals are asked about again below
    def foreseen(arrival: datetime) -> bool:
        # What the forecasts made in the horizon before the arrival looked into, with their lead.
        return recurring(seasonal_counts(arrival - horizon, back=timedelta(0), ahead=lead)) > 0

    # Only the last window (and a cluster's reach before it) says anything about today's rate.
    reach = timedelta(seconds=max(policy.window_s, BURST_SPAN_S) + CLUSTER_S)
    recent_times = times[bisect_right(times, now - reach) : bisect_right(times, now)]
    unforeseen = [at for at in recent_times if not foreseen(at)]
    background = background_rate(unforeseen, now, policy.window_s)
    # A run of arrivals is a burst when today's stream, or the stream earlier days saw at this hour, would
    # rarely bring it: the same four arrivals in a minute are a burst on a quiet day and chance in a busy one.
    burst_rate = burst_in_progress(unforeseen, now, max(background, stream))
    recent_expected = max(burst_rate, background) * policy.horizon_s
    # The same window up to a minute later too (`lead_s`), on each day, whichever saw more: agents are warm
    # for a recurring burst that starts a minute early today (a scheduled trigger's start varies by about
    # that), and the size stays what one horizon of the burst needs, not what a longer window would add up to.
    early = timedelta(seconds=early_s)
    counts = [max(a, b) for a, b in zip(seasonal_counts(now + early), seasonal_counts(now), strict=False)]
    seasonal_expected = float(recurring(counts))
    # Inside a recurring burst (an arrival within the last horizon was foreseen), what it brought on
    # earlier days by the end of the coming horizon and has not brought today is still to come: a burst
    # that runs late today is served in full rather than dropped where earlier days' had ended.
    if any(foreseen(at) for at in times[bisect_right(times, now - horizon) : bisect_right(times, now)]):
        catch_up = timedelta(seconds=CATCH_UP_S)
        behind = recurring_count(seasonal_counts(now, catch_up)) - count(now - catch_up, now)
        seasonal_expected = max(seasonal_expected, float(behind))
    due = due_burst(policy, times, now, stream, early_s)
    # The day's shape so far: a recurring burst that came earlier today, at a new time, is not due again
    # where it came on earlier days. Counted only where it would decide (bursts are scanned from midnight).
    if max(due, seasonal_expected) > recent_expected and came_early(policy, times, now, stream):
        due = seasonal_expected = 0.0
    under_way = burst_under_way(policy, times, now, stream)
    in_progress_at_most: int | None = None
    if under_way.usual >= under_way.seen and under_way.running and burst_rate > background:
        # The burst in progress is today's recurring one, come late: its last arrivals, past where earlier
        # days' had ended, are not foreseen, and read on their own as a new burst they kept up to max_agents
        # warm in its last seconds (`fanout-1487`: 30 agents launched in 8 s, none taken). It brings at most
        # the rest of its usual size; once it has brought more, it is bigger today than usual, and served
        # at its rate like a burst nobody has seen (docs/performance.md, "The last arrivals of a late
        # recurring burst", measures what the cap costs on such a day).
        in_progress_at_most = under_way.rest
        burst_rate = min(burst_rate, under_way.rest / policy.horizon_s)
        recent_expected = max(burst_rate, background) * policy.horizon_s
    if min(under_way.rate * policy.horizon_s, under_way.rest) > max(due, seasonal_expected, recent_expected):
        seen, usual = under_way.seen, under_way.usual
        why = f"a recurring burst under way, {seen} of its usual {usual} so far (at most {under_way.rest} more)"
        return _Estimate(under_way.rate * policy.horizon_s, why, True, under_way.rest, under_way=under_way)
    if due > max(seasonal_expected, recent_expected):
        return _Estimate(due, "a burst due: begun in this band on most days, not yet today", True, under_way=under_way)
    if seasonal_expected > recent_expected:
        why = f"same time on {len(counts)} day(s), seen on most"
        return _Estimate(seasonal_expected, why, True, under_way=under_way)
    if burst_rate > background:
        why = f"a burst in progress: {burst_rate * 3600:.0f} an hour"
        if in_progress_at_most is not None:
            why += f", today's recurring burst ({under_way.seen} of its usual {under_way.usual} so far)"
        return _Estimate(recent_expected, why, True, in_progress_at_most, under_way=under_way)
    trickle = f"{background * 3600:.1f} an hour outside bursts over the last {policy.window_s:.0f} s"
    return _Estimate(recent_expected, trickle, False, under_way=under_way)


BURST_MIN_ARRIVALS = 4  # a burst in progress is read from at least this many arrivals: from fewer, its rate
# is a guess (two jobs ten seconds apart would warm nine agents)
BURST_MAX_ARRIVALS = 10  # ... and at most this many: a longer run's rate lingers after the burst stops
BURST_SPAN_S = 600.0  # ... within this long: older arrivals no longer say that a burst goes on
# ... and only when the stream would bring that many that fast less often than this. At 30 an hour a run of
# four arrivals within a minute comes about four times a day by chance (each, read as a burst at 180 an hour,
# warmed four agents for nothing); at this bound such a stream needs five (about once in two days), and a
# quiet pool still reads four.
BURST_SURPRISE = 1e-3
QUIET_STREAM_PER_S = 1 / 3600  # the stream assumed where none is seen yet
# A burst is over once the silence since its last arrival is this many of its own mean gaps, plus ln(n) for a
# run of n gaps (`burst_in_progress`): while it goes on, a single gap that long comes under 5 % of the time
# (e^-3), and the longest of n gaps passes BURST_OVER + ln(n) means under 5 % of the time too. Fifteen a
# minute that stop are over in 21 s; the 1/t fall of the rate alone kept agents for them minutes after, each
# to come online to nothing. Without the ln(n), a slow burst's own longer gaps ended it over and over while
# it went on: three a minute for ten minutes lost its warm agents at each, and the next jobs waited a cold
# start (`fanout-1123`: four of them, 50 s each).
BURST_OVER = 3.0
# An arrival with CLUSTER_MIN_ARRIVALS or more (itself included) within CLUSTER_S around it is a burst's: a
# local rate of 60 an hour, twice the busiest trickle the generated families draw.
CLUSTER_S = 300.0
CLUSTER_MIN_ARRIVALS = 5
STREAM_S = 3600.0  # the stream earlier days saw at this time of day: over this long around it,
STREAM_PARTS = 6  # ... in this many windows
# A recurring count is a burst's (or a scheduled job's) when the stream brings as many in a window on fewer
# than one day in ten: at 14 an hour, one arrival in the coming 150 s on four days of seven is chance a third
# of the time, and kept an agent warm for most of such a day.
STREAM_UNUSUAL = 0.9


def burst_in_progress(arrivals: Sequence[datetime], now: datetime, stream_per_s: float = 0.0) -> float:
    """The arrival rate (per second) of a burst still going on, from the last arrivals alone: (k - 1) /
    (now - t_k) over the longest run of recent arrivals t_k that is one burst's, k up to
    BURST_MAX_ARRIVALS, where k arrivals in that time are unlikely (under BURST_SURPRISE) for a Poisson
    stream of `stream_per_s` (QUIET_STREAM_PER_S at least).

    One burst's run: arrivals within BURST_SPAN_S; past the first BURST_MIN_ARRIVALS, none separated from
    the later ones by a gap their own rate would bring under BURST_SURPRISE of the time (an earlier trickle
    job is not the burst's start). The longest such run, not the fastest: the largest of the runs' rates
    picked the most extreme local one, and four arrivals in three seconds of a burst of six a minute, read
    as 2,600 an hour, warmed 30 agents (issue 25's Monday); over k arrivals the rate's relative error falls
    as 1/sqrt(k - 1). The open gap since the last arrival counts, so the rate
    falls as soon as the burst stops, and is 0 once that silence is BURST_OVER + ln(k - 1) of the run's own
    mean gaps; it needs no history, so it works from a pool's first day."""
    rate = 0.0
    span = timedelta(seconds=BURST_SPAN_S)
    stream = max(stream_per_s, QUIET_STREAM_PER_S)
    silence = (now - arrivals[-1]).total_seconds() if arrivals else 0.0
    for k in range(BURST_MIN_ARRIVALS, min(BURST_MAX_ARRIVALS, len(arrivals)) + 1):
        at = arrivals[-k]
        if now - at > span:
            break
        if k > BURST_MIN_ARRIVALS:
            # t_k starts another run where a gap as long as the one after it would come under BURST_SURPRISE
            # of the time at the later arrivals' rate: (1 + gap / S) ** -m for m exponential gaps summing to S.
            later = max(1.0, (arrivals[-1] - arrivals[-k + 1]).total_seconds())
            if (1 + (arrivals[-k + 1] - at).total_seconds() / later) ** -(k - 2) < BURST_SURPRISE:
                break
        seconds = max(1.0, (now - at).total_seconds())
        if poisson_tail(stream * seconds, k) >= BURST_SURPRISE:
            continue
        rate = 0.0 if _fallen_silent(k - 1, arrivals[-1] - at, silence) else (k - 1) / seconds
    return rate


def history_days(seasonal_days: int, timezone: str = "UTC") -> int:
    """How many days back the forecast reads arrivals (and the pool's history keeps them, with the day
    under way): `seasonal_days` on a weekday, twice that on a weekend (`_earlier_days`).

    In a zone other than UTC, one day more. The history is trimmed in real time (`trim`: these days and one
    more, 24 h each), the forecast reads local days: the earliest day it reads, from its local midnight
    (`came_early`), begins up to the day under way plus the zone's daylight-saving shifts before now (an
    hour in Europe and America, two on Antarctica/Troll), so the one day of slack UTC needs falls short by
    up to that much after an autumn change. The zone's offset itself does not matter: it moves today and
    the earlier days alike."""
    return WEEKEND_REACH * seasonal_days + (0 if _zone(timezone) is None else 1)


def local_day(at: datetime, timezone: str = "UTC") -> str:
    """The ISO date of `at`'s day in the pool's `timezone`: the day `budget_agent_hours_per_day` counts for.
    A team in Sydney spends its budget from its own midnight, not from 10:00 or 11:00 local time."""
    zone = _zone(timezone)
    return (at if zone is None else at.astimezone(zone)).date().isoformat()


@cache
def _zone(name: str) -> ZoneInfo | None:
    """The zone whose days the forecast compares; None for UTC, whose days are 24 hours apart: the
    arithmetic every UTC pool did before zones, kept as it was (and without a conversion per day)."""
    return None if name == "UTC" else ZoneInfo(name)


def _local_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant (in UTC) of a naive wall-clock time in `zone`. A time the spring change skips (02:30 in
    Berlin on the last Sunday of March) or the autumn change repeats is read with the offset in force before
    the change (fold=0): 24 hours after the same wall-clock time the day before, as a job run every 24 hours
    would come. The skipped 02:30 is 03:30 summer time; of the two 02:30s in October, the first."""
    # The offset looked up on the naive time (fold 0 from every caller) and taken off: the same instant as
    # replace(tzinfo=zone).astimezone(UTC) in two thirds of the time, and this runs for every earlier day.
    offset = zone.utcoffset(wall)
    return (wall if offset is None else wall - offset).replace(tzinfo=UTC)


def _midnight(at: datetime, zone: ZoneInfo | None) -> datetime:
    """The start of `at`'s day: its UTC midnight (in `at`'s own tzinfo, as before zones), or its local one."""
    if zone is None:
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    local = at.astimezone(zone).replace(tzinfo=None, fold=0, hour=0, minute=0, second=0, microsecond=0)
    return _local_instant(local, zone)


def _earlier_days(
    at: datetime, days: int, times: Sequence[datetime], back: timedelta | None, zone: ZoneInfo | None = None
) -> Iterator[datetime]:
    """The same time as `at` on each of the last `days` days whose stretch from `back` before it (None: from
    its midnight) the history (`times`, sorted: it starts on the day of its oldest arrival) covers; on a
    Saturday or Sunday, the weekend days only, over WEEKEND_REACH times as many days: a pool busy on weekdays
    is quiet at the weekend, and five weekdays of seven would read as recurring; and seven days hold two
    weekend days, too few for anything to recur on (RECURRING_MIN_DAYS), so a burst every day at 17:00 would
    find agents warm on no weekend. Fourteen hold four.

    The days are `zone`'s (the pool's `timezone`; None: UTC): the same wall-clock time, so a burst at 09:00
    in Berlin is looked for at 08:00 UTC on a winter day and at 07:00 UTC on a summer one; the weekend and
    the history's first day are its local ones. A team in Sydney starts its Monday on Sunday in UTC, and
    compared with UTC weekend days it found no agent warm (`_local_instant`: a time a daylight-saving change
    skips or repeats that day)."""
    if not times:
        return
    history_starts = _midnight(times[0], zone)
    # The day's clock: UTC's is `at` itself; a zone's is naive wall-clock time, the same whatever the offset
    # that day, turned back into an instant by `_local_instant`.
    wall = at if zone is None else at.astimezone(zone).replace(tzinfo=None)
    weekday = wall.weekday()
    weekend = weekday >= WEEKEND
    reach = WEEKEND_REACH * days if weekend else days
    if zone is None:
        # UTC's days are 24 hours apart: how many the history covers, and their weekdays, are arithmetic (the
        # loop below, with a datetime or two per day, was a third of the simulator's time).
        start = _midnight(at, None) if back is None else at - back
        covered = (start - history_starts) // _DAY
        for day in range(1, min(reach, covered) + 1):
            if not weekend or (weekday - day) % 7 >= WEEKEND:
                yield at - day * _DAY
        return
    for day in range(1, reach + 1):
        local = wall - timedelta(days=day)
        then = _local_instant(local, zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        start = _local_instant(midnight, zone) if back is None else then - back
        if start < history_starts:
            return
        if not weekend or local.weekday() >= WEEKEND:
            yield then


def _burst_start(times: Sequence[datetime], start: datetime, end: datetime, need: int) -> datetime | None:
    """The first arrival in (start, end] that begins a burst: `need` arrivals within CLUSTER_S of it."""
    cluster = timedelta(seconds=CLUSTER_S)
    last = len(times) - need
    for i in range(bisect_right(times, start), min(bisect_right(times, end), last + 1)):
        if times[i + need - 1] - times[i] <= cluster:
            return times[i]
    return None


def due_burst(
    policy: WarmPolicy, times: Sequence[datetime], now: datetime, stream_per_s: float, early_s: float
) -> float:
    """A recurring burst whose start moves from day to day (its trigger's lateness): on most of the earlier
    days compared (`_earlier_days`: the last `seasonal_days` on a weekday, whatever their kind; weekend days
    at the weekend; three at least) a burst had begun by the coming horizon and `early_s` (`lead_s`), within DUE_BAND_S
    before now, and today none has begun in that band yet. Then agents are kept for its first horizon, as
    most of those days saw it (less the stream's typical share), until it begins today or every earlier
    day's began more than a horizon ago. The same-time estimate compares the clock, and misses a burst that
    comes a few minutes later than on most days; a burst is `need` arrivals within CLUSTER_S, as many as the
    stream rarely brings."""
    band, horizon = timedelta(seconds=DUE_BAND_S), timedelta(seconds=policy.horizon_s)
    ahead = horizon + timedelta(seconds=early_s)
    need = _burst_need(stream_per_s)
    if not times or _burst_start(times, now - band, now, need) is not None:
        return 0.0
    sizes: list[int] = []
    latest: timedelta | None = None  # the latest start, from the same time on its day
    for then in _earlier_days(now, policy.seasonal_days, times, band, _zone(policy.timezone)):
        begun = _burst_start(times, then - band, then + ahead, need)
        if begun is None:
            sizes.append(0)
            continue
        sizes.append(bisect_right(times, begun + horizon) - bisect_right(times, begun - timedelta(microseconds=1)))
        latest = begun - then if latest is None else max(latest, begun - then)
    if latest is None or latest < -horizon:  # every day's had begun more than a horizon ago: it is not coming
        return 0.0
    typical = poisson_quantile(stream_per_s * policy.horizon_s, 0.5)
    return float(max(0, recurring_count(sizes) - typical))


@dataclass(frozen=True, slots=True)
class UnderWay:
    """A recurring burst begun today (`burst_under_way`)."""

    rate: float  # per second so far; 0 once it has brought its usual size or its silence says it is over
    seen: int  # today's arrivals since its start
    usual: int  # what most earlier days' bursts begun about then brought (0: none recurs)
    running: bool  # its run reaches the latest arrival: a burst in progress now is this one

    @property
    def rest(self) -> int:
        """The most it has still to bring."""
        return max(0, self.usual - self.seen)


def burst_under_way(policy: WarmPolicy, times: Sequence[datetime], now: datetime, stream_per_s: float) -> UnderWay:
    """A recurring burst begun today within the last DUE_BAND_S, counted from its own start rather than by the
    clock. Its usual size is what most earlier days' bursts begun within DUE_BAND_S of the same time brought
    (each from its start to its end, `_burst_end`). The rate is 0 once today's has brought as many, or its
    silence says it is over (`BURST_OVER`)."""
    band = timedelta(seconds=DUE_BAND_S)
    need = _burst_need(stream_per_s)
    begun = _burst_start(times, now - band, now, need)
    if begun is None:
        return UnderWay(0.0, 0, 0, running=False)
    first = bisect_left(times, begun)
    seen = bisect_right(times, now) - first
    running = _burst_end(times, first, need) >= first + seen
    sizes = []
    for then in _earlier_days(begun, policy.seasonal_days, times, band, _zone(policy.timezone)):
        start = _burst_start(times, then - band, then + band, need)
        at = 0 if start is None else bisect_left(times, start)
        sizes.append(0 if start is None else _burst_end(times, at, need) - at)
    usual = recurring_count(sizes)
    last = times[first + seen - 1]
    if usual <= seen or seen < 2 or _fallen_silent(seen - 1, last - begun, (now - last).total_seconds()):
        return UnderWay(0.0, seen, usual, running)
    return UnderWay((seen - 1) / max(1.0, (last - begun).total_seconds()), seen, usual, running)


def _fallen_silent(gaps: int, run: timedelta, silence_s: float) -> bool:
    """Whether a burst whose `gaps` gaps spanned `run` is over: its silence since its last arrival is longer
    than the longest of those gaps would likely be, BURST_OVER + ln(gaps) of their mean."""
    return gaps / max(1.0, run.total_seconds()) * silence_s > BURST_OVER + math.log(gaps)


def _burst_end(times: Sequence[datetime], start: int, need: int) -> int:
    """The index past the last arrival of the burst that begins at `start`: its run, in which every `need`
    arrivals in a row fall within CLUSTER_S."""
    cluster = timedelta(seconds=CLUSTER_S)
    i = start
    while i + need < len(times) and times[i + need] - times[i + 1] <= cluster:
        i += 1
    return min(len(times), i + need)


def _burst_need(stream_per_s: float) -> int:
    """How many arrivals within CLUSTER_S make a burst: CLUSTER_MIN_ARRIVALS at least, and as many as the
    stream rarely brings (at 27 an hour five in five minutes come most days by chance: nine do not)."""
    stream = max(stream_per_s, QUIET_STREAM_PER_S) * CLUSTER_S
    need = CLUSTER_MIN_ARRIVALS
    while poisson_tail(stream, need) >= BURST_SURPRISE:
        need += 1
    return need


def _bursts_begun(times: Sequence[datetime], start: datetime, end: datetime, need: int) -> int:
    """How many bursts began in (start, end]: each a run of arrivals in which every `need` in a row fall
    within CLUSTER_S, counted once however long it lasts."""
    cluster = timedelta(seconds=CLUSTER_S)
    i, stop, bursts = bisect_right(times, start), bisect_right(times, end), 0
    while i < stop and i + need - 1 < len(times):
        if times[i + need - 1] - times[i] <= cluster:
            bursts += 1
            i = _burst_end(times, i, need)
        else:
            i += 1
    return bursts


def came_early(policy: WarmPolicy, times: Sequence[datetime], now: datetime, stream_per_s: float) -> bool:
    """Whether today has already had the bursts that most earlier days of the same kind had begun by the
    end of the coming horizon: bursts begun today before the last DUE_BAND_S (the one under way, or late
    in this band, is not counted), against those days' bursts from midnight to the same time, the one
    expected now included. Then the burst expected now came earlier today, at a new time, and agents kept
    for it would wait for nothing: the day's shape so far, which the clock alone does not see."""
    need = _burst_need(stream_per_s)
    ahead = timedelta(seconds=policy.horizon_s + SEASONAL_LEAD_S)
    zone = _zone(policy.timezone)
    # Each day from its own midnight, local to the pool's zone: a day a daylight-saving change shortened or
    # lengthened holds 23 or 25 hours before the same wall-clock time.
    earlier = [
        _bursts_begun(times, _midnight(then, zone) - _JUST, then + ahead, need)
        for then in _earlier_days(now, policy.seasonal_days, times, None, zone)
    ]
    expected = recurring_count(earlier)
    today = _bursts_begun(times, _midnight(now, zone) - _JUST, now - timedelta(seconds=DUE_BAND_S), need)
    return expected > 0 and today >= expected


_JUST = timedelta(microseconds=1)  # (start, end] intervals that include an arrival at midnight itself


def poisson_tail(mean: float, k: int) -> float:
    """P(N >= k) for N ~ Poisson(mean)."""
    if k <= 0:
        return 1.0
    term = math.exp(-mean)
    below = term
    for i in range(1, k):
        term *= mean / i
        below += term
    return max(0.0, 1.0 - below)


def background_rate(arrivals: Sequence[datetime], now: datetime, window_s: float) -> float:
    """Today's trickle (per second): the arrivals over the last `window_s` that are not part of a burst
    (CLUSTER_MIN_ARRIVALS or more within CLUSTER_S), so a burst that is over does not keep agents warm for
    the window after it, and a steady stream still does."""
    start = bisect_right(arrivals, now - timedelta(seconds=window_s))
    window = arrivals[start:]
    half = timedelta(seconds=CLUSTER_S / 2)
    lone = 0
    for at in window:
        near = bisect_right(arrivals, at + half) - bisect_right(arrivals, at - half)
        lone += near < CLUSTER_MIN_ARRIVALS
    return lone / window_s


RECURRING_MIN_DAYS = 3
WEEKEND = 5  # datetime.weekday() of Saturday (the local day's, in the pool's `timezone`)
_DAY = timedelta(days=1)
WEEKEND_REACH = 2  # a weekend day is compared with the weekend days of twice `seasonal_days` (`_earlier_days`)
SEASONAL_LEAD_S = 60.0  # how early a recurring burst may come and still find agents warm
DUE_BAND_S = 900.0  # how far before now a recurring burst's start is looked for on earlier days (its lateness)
CATCH_UP_S = 600.0  # how far back today's part of a recurring burst is compared with earlier days'


def recurring_count(counts: Sequence[int]) -> int:
    """The most arrivals that at least three days, and more than half of the days, saw: what recurs.

    A steady trickle puts an arrival in any given 90 s on some days by chance (at 6 jobs an hour, one day
    in seven); the same count on most of three days or more is rarely chance (under 1 % of such windows at
    that rate), and a recurring burst or a scheduled pipeline's job shows on nearly every day."""
    need = max(RECURRING_MIN_DAYS, len(counts) // 2 + 1)
    if len(counts) < need:
        return 0
    return sorted(counts, reverse=True)[need - 1]


def poisson_quantile(mean: float, q: float) -> int:
    """The smallest k with P(N <= k) >= q for N ~ Poisson(mean); 0 for a mean of 0."""
    if mean <= 0:
        return 0
    term = math.exp(-mean)
    cumulative = term
    k = 0
    while cumulative < q and k < 10_000:
        k += 1
        term *= mean / k
        cumulative += term
    return k


# -- cron: five fields, each `*`, a number, a range `a-b`, a list `a,b`, and steps `*/n` or `a-b/n` --------


def schedule_open(schedule: WarmSchedule, now: datetime) -> bool:
    """Whether a window that opened at a cron match within the last `duration_minutes` is still open.

    The minutes are counted in real time (UTC) and each is read on the local clock: a 60-minute window
    lasts 60 minutes across a daylight-saving change (counted on the wall clock, it lasted 30 across the
    spring change and 90 across the autumn one). A match in the repeated hour of the autumn change opens
    the window once, at the first of the two; a time the spring change skips matches nothing that day."""
    zone = ZoneInfo(schedule.timezone)
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    fields = parse_cron(schedule.cron)
    for m in range(schedule.duration_minutes):
        local = (minute - timedelta(minutes=m)).astimezone(zone)
        if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
            continue  # the second time this wall-clock minute occurs
        if _matches(fields, local):
            return True
    return False


_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def parse_cron(expression: str) -> tuple[frozenset[int], ...]:
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(f"cron {expression!r}: expected 5 fields (minute hour day month weekday)")
    return tuple(_field(part, low, high, expression) for part, (low, high) in zip(parts, _RANGES, strict=True))


def _field(part: str, low: int, high: int, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for item in part.split(","):
        body, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, last = body.split("-", 1)
            start, end = int(first), int(last)
        else:
            start = end = int(body)
        if step < 1 or not (low <= start <= end <= high + (1 if high == 6 else 0)):
            raise ValueError(f"cron {expression!r}: {item!r} is outside {low}-{high}")
        values.update(v % 7 if high == 6 else v for v in range(start, end + 1, step))
    return frozenset(values)


def _matches(fields: tuple[frozenset[int], ...], at: datetime) -> bool:
    minute, hour, day, month, weekday = fields
    cron_weekday = (at.weekday() + 1) % 7  # cron: 0 = Sunday; Python: 0 = Monday
    return at.minute in minute and at.hour in hour and at.day in day and at.month in month and cron_weekday in weekday
