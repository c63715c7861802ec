"""`terraform apply` of examples/complete into moto_server on 127.0.0.1, one workflow run against the
deployed resources and the ADO emulator that launches a task, then `terraform destroy`. Prints timings."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from adoscale.emulator import AdoModel
from adoscale.packaging import build_zip, install_dependencies
from tests.conftest import PAT, REPO
from tests.deploy.terraform import cli_env, run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def moto_server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / "moto.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "moto_server.py"), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            assert process.poll() is None, (tmp_path / "moto.log").read_text()
            assert time.monotonic() < deadline, "moto_server did not start"
            time.sleep(0.1)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.mark.slow
def test_apply_run_destroy(tmp_path: Path, moto_server: str, model: AdoModel, org_url: str) -> None:
    # The example's layout, with the files its modules read (the workflow template, the user data).
    root = tmp_path / "repo"
    shutil.copytree(REPO / "deploy", root / "deploy")
    (root / "src" / "adoscale" / "workflow").mkdir(parents=True)
    shutil.copy(
        REPO / "src" / "adoscale" / "workflow" / "state_machine.asl.json", root / "src" / "adoscale" / "workflow"
    )
    (root / "vm").mkdir()
    shutil.copy(REPO / "vm" / "register-environment.sh", root / "vm")
    deps = tmp_path / "deps"
    install_dependencies(deps)
    package = tmp_path / "lambda.zip"
    build_zip(package, deps)
    example = root / "deploy" / "terraform" / "examples" / "complete"
    env = cli_env(tmp_path)
    variables = [
        "-var", "ado_org_name=acme", "-var", f"ado_org_url={org_url}", "-var", f"ado_pat={PAT}",
        "-var", f"lambda_zip_path={package}", "-var", f"aws_endpoint={moto_server}",
    ]  # fmt: skip
    assert (init := run(["init", "-input=false", "-no-color"], example, env)).returncode == 0, init.stdout + init.stderr
    started = time.monotonic()
    apply = run(["apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=20", *variables], example, env)
    apply_s = time.monotonic() - started
    assert apply.returncode == 0, apply.stdout[-5000:] + apply.stderr[-5000:]
    outputs = json.loads(run(["output", "-json"], example, env).stdout)
    try:
        pool = model.create_pool("linux-fargate")
        model.register_agent(pool, "adoscale-placeholder", online=False)
        model.queue_job(pool)
        aws = {"endpoint_url": moto_server, "region_name": "us-east-1"}
        sfn = boto3.client("stepfunctions", **aws)
        execution = sfn.start_execution(
            stateMachineArn=outputs["workflow_arn"]["value"],
            input=json.dumps({"rounds": 1, "cadence_s": 0, "task_wait_s": 0}),
        )["executionArn"]
        deadline = time.monotonic() + 120
        while (status := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the workflow did not finish"
            time.sleep(0.2)
        assert status["status"] == "SUCCEEDED", {k: status.get(k) for k in ("status", "error", "cause")}
        ecs = boto3.client("ecs", **aws)
        tasks = ecs.list_tasks(cluster=outputs["cluster"]["value"])["taskArns"]
        assert len(tasks) == 1  # the queued job got its agent's task
    finally:
        started = time.monotonic()
        destroy = run(
            ["destroy", "-auto-approve", "-input=false", "-no-color", "-parallelism=20", *variables], example, env
        )
        destroy_s = time.monotonic() - started
        print(f"\nterraform apply {apply_s:.0f} s, destroy {destroy_s:.0f} s (moto_server on 127.0.0.1)")
    assert destroy.returncode == 0, destroy.stdout[-3000:] + destroy.stderr[-3000:]
