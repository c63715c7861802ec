"""What every benchmark hands back: a typed, frozen result (a pydantic model), written as JSON on request;
the prose a benchmark prints is only a rendering of that result (`render`).

Each benchmark's command takes the same two options:

    --json        print the result as JSON instead of prose (one object, the model's fields)
    --out FILE    also write the result as JSON to FILE (the prose is still printed)

so that figures can be kept, compared and asserted on by their fields rather than by their wording
(tests/sim/test_benchmarks.py reads them back with the same models).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class RunInfo(BaseModel):
    """Where and when the figures were taken: timings mean little without the machine and the moment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: list[str] = Field(description="The benchmark's module and arguments, as run.")
    measured_at: datetime
    python: str
    machine: str
    cpus: int

    @classmethod
    def here(cls, benchmark: str, argv: Sequence[str]) -> RunInfo:
        return cls(
            command=["python", "-m", f"benchmarks.{benchmark}", *argv],
            measured_at=datetime.now(UTC),
            python=platform.python_version(),
            machine=platform.machine(),
            cpus=os.cpu_count() or 1,
        )


class BenchResult(BaseModel):
    """The base of every benchmark's result: `benchmark` names it (a literal in each subclass, so that a JSON
    file says which model reads it), `run` says where it ran; `render` is the prose."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    benchmark: str
    run: RunInfo

    def render(self) -> str:
        raise NotImplementedError


def call_key(service: str, operation: str) -> str:
    """One AWS operation as a JSON key: `ecs:RunTask`."""
    return f"{service}:{operation}"


def aws_calls(by_operation: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """A `CallCounter`'s counts with JSON keys, in the order the calls were first made."""
    return {call_key(service, operation): count for (service, operation), count in by_operation.items()}


def ado_calls(by_route: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """The emulator's request counts (`model.stats.by_route`) with JSON keys: `GET /{org}/_apis/...`."""
    return {f"{method} {route}": count for (method, route), count in by_route.items()}


def render_calls(calls: Mapping[str, int]) -> str:
    """The counts as the benchmarks have always printed them: `{('ecs', 'ListTasks'): 100, ...}`."""
    return str({tuple(key.split(":", 1)): count for key, count in calls.items()})


def _out_file(value: str) -> Path:
    """Checked before the benchmark runs, so that minutes of measuring are not lost to a typo."""
    path = Path(value)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no such directory: {path.parent}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory")
    return path


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of prose")
    parser.add_argument("--out", type=_out_file, metavar="FILE", help="also write the result as JSON to FILE")


def emit(result: BenchResult, args: argparse.Namespace) -> None:
    """Print the result (prose, or JSON with `--json`) and write it to `--out` when asked."""
    text = result.model_dump_json(indent=2)
    if args.out is not None:
        try:
            args.out.write_text(text + "\n")
        except OSError as exc:
            # A benchmark may have run for minutes: say where the figures could not go, in one line.
            print(f"benchmarks.{result.benchmark}: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            raise SystemExit(2) from None
    print(text if args.json else result.render())
