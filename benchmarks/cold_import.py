"""Cold import time of each Lambda handler module, each in a fresh interpreter (median of 5).

.venv/bin/python -m benchmarks.cold_import
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from adoscale_lab.packaging import handler_modules

PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def main() -> None:
    for module in handler_modules():
        runs = []
        for _ in range(5):
            out = subprocess.run(
                [sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True, check=True
            )
            runs.append(float(out.stdout.strip()))
        print(f"{module:<36} {statistics.median(runs) * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
