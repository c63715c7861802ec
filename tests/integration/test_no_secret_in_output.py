"""No secret in what the CLI prints, at any verbosity: `adoscale reconcile` run as a user runs it (its own
process), reading the PAT from Secrets Manager (moto on 127.0.0.1) and talking to the ADO emulator over
HTTP. botocore logs the Secrets Manager response body at DEBUG while parsing it, before adoscale holds the
value; neither the PAT nor its Basic-auth base64 forms may appear."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, ecs_world, served_moto
from tests.conftest import PAT


def _forms(secret: str) -> list[str]:
    return [secret, *(base64.b64encode(f"{user}:{secret}".encode()).decode() for user in ("", "adoscale", "user"))]


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"], ["-vvv"]], ids=["default", "v", "vv", "vvv"])
def test_reconcile_prints_no_pat_at_any_verbosity(
    tmp_path: Path, model: AdoModel, org_url: str, verbosity: list[str]
) -> None:
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    model.queue_job(pool)
    with ecs_world() as (_ecs, world), served_moto() as endpoint:
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="adoscale/pat", SecretString=PAT)
        config = config_for(world, org_url, [{"name": "linux", "max_agents": 2}])
        path = tmp_path / "adoscale.json"
        path.write_text(config.model_copy(update={"pat_secret": "adoscale/pat"}).model_dump_json())
        env = {k: v for k, v in os.environ.items() if k != "AZP_TOKEN"}
        env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1"})
        command = [str(Path(sys.executable).parent / "adoscale"), "reconcile", "-c", str(path), *verbosity]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    for form in _forms(PAT):
        assert form not in output
    if verbosity:
        # The verbose runs did log (the pass's own INFO lines). botocore's DEBUG lines, which carry response
        # bodies, are never shown at any verbosity (libraries stop at INFO); were they, the redaction filter
        # masks the secret (tests/test_secrets.py checks that filter on botocore's own debug records).
        assert "INFO adoscale" in output and "launch 1" in output, output[-3000:]
