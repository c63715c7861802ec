"""Issue 25's goals for the warm pool over one generated family of traces (`adoscale_lab.sim.families`):
`adoscale-predictive` on days it was not built on. Each family is judged in a file of its own
(tests/sim/test_family_*.py), so the suite's two workers (`--dist loadfile`) simulate the families side by
side, each once.

ADOSCALE_FAMILY_TRACES=N judges N traces per family: 20 by default, the issue's minimum (seeds 1-20); more on
demand. Figures are printed (`pytest -s`); docs/performance.md has the distribution over these 80, over a
fresh 80 (seeds 101-120), and over holdouts (seeds 301-320, 401-420, 501-520, then 601-620). The generator is
seeded: a failing trace is named and can be run alone (`generate(family, seed)`). A goal missed on named traces
is reported as not met (xfail, with the traces and their figures), never hidden by changing a trace; a trace
out of reach (for any policy, or on average: `test_idle_at_most_half_the_busy_minutes`) is named apart."""

from __future__ import annotations

import os
from functools import cache

import pytest

from adoscale_lab.sim import POLICIES, PolicyResult
from adoscale_lab.sim.families import (
    Trace,
    expected_idle_floor_minutes,
    family,
    idle_floor_minutes,
    judge,
    run,
)

COUNT = int(os.environ.get("ADOSCALE_FAMILY_TRACES", "20"))
NIGHT_IDLE_MINUTES = 45


def _show(trace: Trace, result: PolicyResult) -> None:
    s = result.summary()
    print(
        f"\n{trace.name}: {judge(trace).why}; p50 {s['wait_p50_s']} p95 {s['wait_p95_s']} s, idle "
        f"{s['idle_agent_minutes']} of which start-up {result.startup_minutes:.1f}, busy {s['busy_minutes']} | "
        f"{trace.description}"
    )


@cache
def judged(name: str) -> list[tuple[Trace, PolicyResult]]:
    """A family's runs, once per worker."""
    pairs = []
    for trace in family(name, COUNT):
        result = run(trace, POLICIES["adoscale-predictive"])
        _show(trace, result)
        pairs.append((trace, result))
    return pairs


def not_met(what: str, misses: list[str]) -> None:
    """A goal missed on named traces is reported as not met (xfail, with the traces), never hidden by
    changing a trace: docs/performance.md names and explains each. A goal met everywhere passes."""
    if misses:
        pytest.xfail(f"{what} not met on {len(misses)} trace(s): " + "; ".join(misses))


class FamilyGoals:
    """The goals every family is judged on; a test class per family sets `family`."""

    family = ""

    def test_nothing_is_stranded_killed_or_leaked(self) -> None:
        for trace, result in judged(self.family):
            assert (result.stranded, result.busy_killed, result.leaked) == (0, 0, 0), trace.name

    def test_median_wait_at_most_15_s_where_the_median_job_is_in_a_recurring_or_ongoing_busy_period(self) -> None:
        runs = judged(self.family)
        applies = [(t, r) for t, r in runs if judge(t).busy]
        print(f"\nthe median goal applies to {len(applies)} of {len(runs)} traces")
        misses = [f"{t.name} p50 {r.percentile(0.5):.1f} s" for t, r in applies if r.percentile(0.5) > 15]
        not_met("median wait <= 15 s", misses)

    def test_no_policy_idles_less_than_the_start_up_floor(self) -> None:
        """`idle_floor_minutes` is a lower bound (one agent a job, each idle for its start-up, billed a minute
        at least): what makes a trace under it out of reach for every policy, below."""
        for trace, result in judged(self.family):
            floor = idle_floor_minutes(trace)
            assert result.idle_agent_minutes >= floor - 1e-6, (trace.name, floor)
            assert result.startup_minutes >= len(trace.jobs) * 40 / 60 - 1e-6, trace.name  # 40 s each at least

    def test_idle_at_most_half_the_busy_minutes(self) -> None:
        """A trace over the goal is one of three kinds, told apart and named:

        - out of reach for any policy: the start-up floor alone is over half the busy minutes (jobs shorter
          than about 80 s, `idle_floor_minutes`). It passes.
        - out of reach on average: the mean start-up alone is (jobs shorter than about 2 minutes,
          `expected_idle_floor_minutes`). It passes only where the cold start (`adoscale-hooks`: no warm
          pool, an agent per job) misses the goal on it too, and the warm pool added no more idle to the
          start-up than half the busy minutes: only start-up draws luckier than the platform's average
          could meet it, and the forecast did not make it worse by more than the goal allows.
        - missed: the rest (xfail), those whose measured start-up alone is over the goal named apart."""
        over = [(t, r) for t, r in judged(self.family) if r.idle_agent_minutes > r.busy_minutes / 2]
        out_of_reach = [(t, r) for t, r in over if idle_floor_minutes(t) > r.busy_minutes / 2]
        print(
            "\nout of reach for any policy: "
            + ("; ".join(f"{t.name} (floor {idle_floor_minutes(t):.1f})" for t, _ in out_of_reach) or "none")
        )
        named = {t.name for t, _ in out_of_reach}
        on_average = []
        for t, r in over:
            if t.name in named or expected_idle_floor_minutes(t) <= r.busy_minutes / 2:
                continue
            cold = run(t, POLICIES["adoscale-hooks"])
            added = r.idle_agent_minutes - r.startup_minutes
            print(
                f"\n{t.name}: mean start-up floor {expected_idle_floor_minutes(t):.1f} over "
                f"{r.busy_minutes / 2:.1f}; the cold start idles {cold.idle_agent_minutes:.1f}; the warm pool "
                f"adds {added:.1f} to its start-up"
            )
            if cold.idle_agent_minutes > cold.busy_minutes / 2 and added <= r.busy_minutes / 2:
                on_average.append(t.name)
        print("\nout of reach on average: " + ("; ".join(on_average) or "none"))
        named |= set(on_average)
        rest = [(t, r) for t, r in over if t.name not in named]
        half = {t.name: r.busy_minutes / 2 for t, r in rest}
        infeasible = [
            f"{t.name} (start-up alone {r.startup_minutes:.1f})" for t, r in rest if r.startup_minutes > half[t.name]
        ]
        missed = [
            f"{t.name} idle {r.idle_agent_minutes:.1f} > {half[t.name]:.1f}"
            for t, r in rest
            if r.startup_minutes <= half[t.name]
        ]
        not_met("idle <= half the busy minutes", missed + infeasible)
