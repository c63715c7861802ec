"""The CLI-started emulator for the SDK tests."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from tests.emulator.cli import CliEmulator, start_emulator, stop_emulator

# Microsoft's SDK caches discovered locations on disk, keyed by URL, in a directory it reads when it is first
# imported (here, before the test module): keep that out of the user's home directory, and remove it when the
# process exits (mkdtemp left one in /tmp per pytest process, 300 of them on this machine over a few days).
_SDK_CACHE = tempfile.TemporaryDirectory(prefix="ado-sdk-cache-")
os.environ.setdefault("AZURE_DEVOPS_CACHE_DIR", _SDK_CACHE.name)


@pytest.fixture
def cli_emulator() -> Iterator[CliEmulator]:
    emulator = start_emulator("--org", "acme", "--pool", "linux", "--project", "web")
    try:
        yield emulator
    finally:
        if emulator.process.poll() is None:
            stop_emulator(emulator)
