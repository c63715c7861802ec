"""`adoscale emulator` started from the CLI, as a user would, in a subprocess on 127.0.0.1 (shared by tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SDK_PAT = "sdk-emulator-pat-5f2c9e"


@dataclass(frozen=True)
class CliEmulator:
    url: str  # http://127.0.0.1:PORT
    org_url: str  # …/ORG
    process: subprocess.Popen[str]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("adoscale")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from adoscale.cli import main; main()"]


def start_emulator(*args: str) -> CliEmulator:
    env = {**os.environ, "AZP_TOKEN": SDK_PAT}
    process = subprocess.Popen(
        [*_command(), "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 20
    line = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "Azure DevOps emulator:" in line or not line:
            break
    if "Azure DevOps emulator:" not in line:
        process.kill()
        _, err = process.communicate(timeout=5)
        raise AssertionError(f"emulator did not start: {line!r} {err!r}")
    org_url = line.split("Azure DevOps emulator: ", 1)[1].split(" ", 1)[0]
    return CliEmulator(org_url.rsplit("/", 1)[0], org_url, process)


def stop_emulator(emulator: CliEmulator) -> float:
    """SIGTERM, then the seconds it took to exit."""
    started = time.monotonic()
    emulator.process.terminate()
    try:
        emulator.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        emulator.process.kill()
        emulator.process.wait(timeout=5)
        raise
    return time.monotonic() - started
