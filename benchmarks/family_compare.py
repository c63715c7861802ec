"""Two runs of `benchmarks.family_table` compared trace by trace (issue 25): how a change to the forecast is
judged in docs/performance.md ("tried and dropped", a holdout's verdict), main's run against a variant's.

.venv/bin/python -m benchmarks.family_compare BEFORE.json AFTER.json [--json] [--out FILE]

BEFORE and AFTER are `family_table --out` (or `--json`) files of the same traces; files of different traces
are refused. A trace is listed where the goals it misses changed, its median wait moved by more than
MOVED_P50_S or its idle by more than MOVED_IDLE_SHARE. The misses counted are those a policy could have
avoided (`TraceRow.counted_misses`): the median where the goal applies, idle over half the busy minutes
unless the start-up alone is, the quiet night's 45 minutes, and anything stranded, killed or leaked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from benchmarks.family_table import FamilyTableResult, TraceRow
from benchmarks.results import BenchResult, RunInfo, add_output_options, emit

MOVED_P50_S = 3.0
MOVED_IDLE_SHARE = 0.05


class TraceMove(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    trace: str
    median_applies: bool
    p50_s: tuple[float, float]  # before, after
    idle_minutes: tuple[float, float]
    allowed_idle_minutes: float  # half the busy minutes (the trace's jobs are the same in both runs)
    misses: tuple[list[str], list[str]]  # counted, before and after


class FamilyCompareResult(BenchResult):
    benchmark: Literal["family_compare"] = "family_compare"
    before: str
    after: str
    traces: int
    misses: tuple[int, int]  # traces with a counted miss, before and after
    idle_minutes: tuple[float, float]
    moved: list[TraceMove]

    def render(self) -> str:
        lines = [f"{self.before} -> {self.after}"]
        for m in self.moved:
            applies = " (median goal applies)" if m.median_applies else ""
            lines.append(
                f"{m.trace:<13} p50 {m.p50_s[0]:5.1f} -> {m.p50_s[1]:5.1f} s   idle {m.idle_minutes[0]:7.1f} -> "
                f"{m.idle_minutes[1]:7.1f} of {m.allowed_idle_minutes:.1f}{applies}"
            )
            if m.misses[0] != m.misses[1]:
                lines.append(
                    f"{'':<13} misses: {'; '.join(m.misses[0]) or 'none'} -> {'; '.join(m.misses[1]) or 'none'}"
                )
        before, after = self.idle_minutes
        change = f"{(after / before - 1) * 100:+.1f} %" if before else "n/a"
        lines.append(
            f"{self.traces} traces: {self.misses[0]} -> {self.misses[1]} with a counted miss; "
            f"idle {before:,.1f} -> {after:,.1f} agent-min ({change})"
        )
        return "\n".join(lines)


def _moved(before: TraceRow, after: TraceRow) -> bool:
    idle = abs(after.idle_minutes - before.idle_minutes) > MOVED_IDLE_SHARE * max(1.0, before.idle_minutes)
    p50 = abs(after.p50_s - before.p50_s) > MOVED_P50_S
    return idle or p50 or before.counted_misses != after.counted_misses


def compare(
    before: FamilyTableResult, after: FamilyTableResult, paths: tuple[str, str], argv: list[str]
) -> FamilyCompareResult:
    """The traces that moved and the totals; ValueError where the two runs are not of the same traces."""
    old = {t.trace: t for t in before.traces}
    new = {t.trace: t for t in after.traces}
    if old.keys() != new.keys():
        only = sorted(old.keys() ^ new.keys())
        raise ValueError(f"the two runs are not of the same traces: {', '.join(only[:5])} in one only")
    moved = [
        TraceMove(
            trace=name,
            median_applies=new[name].median_applies,
            p50_s=(old[name].p50_s, new[name].p50_s),
            idle_minutes=(old[name].idle_minutes, new[name].idle_minutes),
            allowed_idle_minutes=new[name].busy_minutes / 2,
            misses=(old[name].counted_misses, new[name].counted_misses),
        )
        for name in old
        if _moved(old[name], new[name])
    ]
    return FamilyCompareResult(
        run=RunInfo.here("family_compare", argv),
        before=paths[0],
        after=paths[1],
        traces=len(old),
        misses=(sum(bool(t.counted_misses) for t in old.values()), sum(bool(t.counted_misses) for t in new.values())),
        idle_minutes=(sum(t.idle_minutes for t in old.values()), sum(t.idle_minutes for t in new.values())),
        moved=moved,
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="a family_table result file (--out), e.g. main's run")
    parser.add_argument("after", type=Path, help="the same traces' result file under the change")
    add_output_options(parser)
    args = parser.parse_args(argv)
    runs = []
    for path in (args.before, args.after):
        try:
            runs.append(FamilyTableResult.model_validate_json(path.read_text()))
        except (OSError, ValueError) as exc:
            parser.error(f"{path}: not a family_table result file ({exc.__class__.__name__}: {str(exc)[:200]})")
    try:
        result = compare(runs[0], runs[1], (str(args.before), str(args.after)), argv)
    except ValueError as exc:
        parser.error(str(exc))
    emit(result, args)


if __name__ == "__main__":
    main()
