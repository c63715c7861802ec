"""`adoscale sandbox` then `adoscale reconcile`, each in its own process as a user runs them: the first pass
launches a task per queued job into the sandbox's moto, a second pass launches none (moto's task lifecycle is
held, so the tasks are still there), and the sandbox stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

ADOSCALE = str(Path(sys.executable).with_name("adoscale"))
READY = "Ctrl-C stops the sandbox."


def _wait_for_line(process: subprocess.Popen[str], needle: str, deadline_s: float) -> list[str]:
    """stdout's lines up to the one containing `needle` (a deadline on the wait, not a sleep)."""
    assert process.stdout is not None
    lines: list[str] = []
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line.rstrip("\n"))
        if needle in line:
            return lines
    pytest.fail(f"no {needle!r} from the sandbox within {deadline_s} s: {lines}")


def _environment(env_file: Path) -> dict[str, str]:
    pairs = (line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines())
    return dict(pairs)


@pytest.mark.slow  # two processes and moto: the integration layer
@pytest.mark.parametrize("agents", [False, True], ids=["no-agents", "agents"])
def test_sandbox_then_reconcile_launches_for_queued_jobs_once(tmp_path: Path, agents: bool) -> None:
    box = tmp_path / "box"
    args = [ADOSCALE, "sandbox", "--dir", str(box), "--jobs", "3", "--agents" if agents else "--no-agents"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZP_"))}
    sandbox = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean)
    try:
        banner = "\n".join(_wait_for_line(sandbox, READY, deadline_s=60))
        env = {**clean, **_environment(box / "env.sh"), "COLUMNS": "100"}
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert "127.0.0.1" in banner and str(box / "adoscale.yaml") in banner
        config = (box / "adoscale.yaml").read_text()
        assert "pat_secret:" in config and "lease_table:" in config

        def reconcile() -> dict[str, dict[str, object]]:
            done = subprocess.run(
                [ADOSCALE, "reconcile", "-c", str(box / "adoscale.yaml"), "--json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert "Traceback" not in done.stderr
            return {str(p["pool"]): p for p in json.loads(done.stdout)["pools"]}

        first = reconcile()
        assert first["linux"]["queued"] == 3 and first["linux"]["launched"] == 3, first
        assert first["java"]["launched"] == 0
        second = reconcile()
        assert second["linux"]["launched"] == 0, second
        secrets = boto3.client(
            "secretsmanager",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=env["AWS_DEFAULT_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        pat = secrets.get_secret_value(SecretId="adoscale-sandbox/pat")["SecretString"]
    finally:
        sandbox.send_signal(signal.SIGTERM)
        out, err = sandbox.communicate(timeout=30)
    assert sandbox.returncode == 0, err
    assert "sandbox stopped" in out and "Traceback" not in err, err
    assert pat not in banner + out + err  # the PAT is in Secrets Manager, never printed
