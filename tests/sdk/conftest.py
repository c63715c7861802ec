"""The CLI-started emulator for the SDK tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator.cli import CliEmulator, start_emulator, stop_emulator


@pytest.fixture
def cli_emulator() -> Iterator[CliEmulator]:
    emulator = start_emulator("--org", "acme", "--pool", "linux", "--project", "web")
    try:
        yield emulator
    finally:
        if emulator.process.poll() is None:
            stop_emulator(emulator)
