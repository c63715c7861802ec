"""Cold import time of each Lambda handler module, each in a fresh interpreter (median of `--runs`, 5 by default).

.venv/bin/python -m benchmarks.cold_import [--runs 5] [--module adoscale.handlers.pass_ ...] [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from adoscale_lab.packaging import handler_modules
from benchmarks.results import BenchResult, RunInfo, add_output_options, emit

PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


class ModuleImport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    module: str
    runs_s: list[float] = Field(min_length=1)  # one fresh interpreter each

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs_s)


class ColdImportResult(BenchResult):
    benchmark: Literal["cold_import"] = "cold_import"
    modules: list[ModuleImport]

    def render(self) -> str:
        return "\n".join(f"{m.module:<36} {m.median_s * 1000:6.0f} ms" for m in self.modules)


def run(args: argparse.Namespace, argv: list[str]) -> ColdImportResult:
    measured = []
    for module in args.module or handler_modules():
        runs = []
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True, check=False
            )
            if out.returncode != 0:
                last = (out.stderr.strip().splitlines() or ["no output"])[-1]
                raise SystemExit(f"benchmarks.cold_import: importing {module} failed: {last}")
            runs.append(float(out.stdout.strip()))
        measured.append(ModuleImport(module=module, runs_s=runs))
    return ColdImportResult(run=RunInfo.here("cold_import", argv), modules=measured)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per module (the median is shown)")
    parser.add_argument(
        "--module", action="append", help="a handler module to time (repeatable); default: every deployed handler"
    )
    add_output_options(parser)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    emit(run(args, argv), args)


if __name__ == "__main__":
    main()
