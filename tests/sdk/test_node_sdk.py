"""Microsoft's Node SDK (`azure-devops-node-api`, pinned in tests/sdk/node/package.json) against the CLI emulator.

The SDK resolves resource areas through the `Location` area and then asks `OPTIONS /{org}/_apis/{area}` for
the route of every call by its hard-coded location id, so a route or id the emulator gets wrong fails here.
The npm install is part of this test's set-up (idempotent; it fails loudly when npm is missing, never skips).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.cli import SDK_PAT, CliEmulator, start_emulator, stop_emulator

pytestmark = pytest.mark.slow

NODE_DIR = Path(__file__).parent / "node"
SCENARIO = """
parallel_limit: 4
projects: [{name: web}]
pools:
  - name: linux
    agents: [{name: adoscale-placeholder, capabilities: {docker: ""}, status: offline}]
    jobs: [{demands: [docker]}]
"""


def _installed() -> bool:
    wanted = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["azure-devops-node-api"]
    manifest = NODE_DIR / "node_modules" / "azure-devops-node-api" / "package.json"
    return manifest.exists() and json.loads(manifest.read_text())["version"] == wanted


@pytest.fixture(scope="session")
def node_sdk() -> Path:
    """`npm ci` into tests/sdk/node once (the lock file pins every package); later runs reuse it."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.fail("tests/sdk/test_node_sdk.py needs Node.js 20+ and npm on PATH (Microsoft's Node SDK test)")
    if not _installed():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0 or not _installed():
            pytest.fail(f"npm ci in {NODE_DIR} failed ({done.returncode}): {done.stderr[-2000:]}")
    return Path(node)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[CliEmulator]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    started = start_emulator("--scenario", str(scenario))
    yield started
    if started.process.poll() is None:
        stop_emulator(started)


def test_the_node_sdk_discovers_and_drives_pools_agents_requests_usage_and_environments(
    node_sdk: Path, emulator: CliEmulator
) -> None:
    done = subprocess.run(
        [str(node_sdk), "drive.mjs", emulator.org_url, SDK_PAT, "linux", "web"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    steps: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        item = json.loads(line)
        steps[item.pop("step")] = item
    assert {"distributedtask", "Location"} <= set(steps["discover"]["areas"])
    assert steps["pools"]["names"] == ["linux"]
    added = steps["add"]
    # Offline until its listener connects (the SDK turns the enum into TaskAgentStatus.Offline, 1); the version
    # and user capabilities it sent are kept.
    assert (added["status"], added["version"], added["user"]) == (1, "4.258.1", {"docker": ""})
    assert steps["find"]["names"] == ["node-agent"] and steps["find"]["system"] == {"Agent.OS": "Linux"}
    assert steps["disable"]["enabled"] is False
    assert steps["requests"] == {"count": 1, "demands": [["docker"]]}
    assert steps["usage"] == {"total": 4, "used": 0}
    assert steps["environment"]["found"] == [steps["environment"]["id"]]
    assert steps["delete"]["left"] == 0
    assert SDK_PAT not in done.stdout + done.stderr
