"""Deploying examples/complete into a patched moto_server on 127.0.0.1, for the apply and contract tests:
the server, a source-only Lambda package (moto_server runs the handlers in its own process, so the
dependencies in the zip are never used), and terraform runs on a copy of deploy/ (state stays out of the
repository)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adoscale_lab.packaging import build_zip
from tests.conftest import REPO
from tests.deploy.terraform import cli_env, run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server(log_path: Path) -> Iterator[str]:
    port = _free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "moto_server.py"), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    assert process.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, "moto_server did not start"
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


# Every service the example's resources use, served by moto_server at one URL.
ENDPOINT_SERVICES = (
    "apigatewayv2", "autoscaling", "cloudwatch", "cloudwatchlogs", "dynamodb", "ec2", "ecr", "ecs", "events",
    "iam", "kms", "lambda", "scheduler", "secretsmanager", "sfn", "sns", "sqs", "ssm", "sts",
)  # fmt: skip


def moto_provider_override(endpoint: str) -> str:
    """A `*_override.tf` for the aws provider: every endpoint at moto_server, test credentials, no checks
    that need real AWS (TESTING-NOTES.md)."""
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in ENDPOINT_SERVICES)
    return f"""provider "aws" {{
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  access_key                  = "testing"
  secret_key                  = "testing"
  endpoints {{
{endpoints}
  }}
}}
"""


@dataclass
class Example:
    """A copy of deploy/ with examples/complete initialised against the provider mirror."""

    workdir: Path
    endpoint: str
    variables: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.workdir / "deploy" / "terraform" / "examples" / "complete"

    @property
    def env(self) -> dict[str, str]:
        return cli_env(self.workdir)

    def _args(self) -> list[str]:
        return [arg for k, v in self.variables.items() for arg in ("-var", f"{k}={v}")]

    def terraform(self, *args: str, timed: str | None = None) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        done = run(list(args), self.root, self.env)
        if timed:
            self.timings[timed] = time.monotonic() - started
        assert done.returncode == 0, f"terraform {args[0]}:\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
        return done

    def init(self) -> None:
        self.terraform("init", "-input=false", "-no-color", timed="init")

    def apply(self) -> dict[str, Any]:
        self.terraform(
            "apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=20", *self._args(), timed="apply"
        )
        shown: dict[str, Any] = json.loads(self.terraform("show", "-json", "-no-color").stdout)
        return shown

    def plan(self) -> dict[str, Any]:
        self.terraform("plan", "-input=false", "-no-color", "-out=tfplan", *self._args(), timed="plan")
        shown: dict[str, Any] = json.loads(self.terraform("show", "-json", "-no-color", "tfplan").stdout)
        return shown

    def outputs(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.terraform("output", "-json").stdout)
        return {k: v["value"] for k, v in data.items()}

    def destroy(self) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        done = run(
            ["destroy", "-auto-approve", "-input=false", "-no-color", "-parallelism=20", *self._args()],
            self.root,
            self.env,
        )
        self.timings["destroy"] = time.monotonic() - started
        return done


def prepare(workdir: Path, endpoint: str, variables: dict[str, str]) -> Example:
    """Copy deploy/ alone (the modules must need nothing else) and build the package where `adoscale
    package` writes it, so the example's default `lambda_zip_path` finds it."""
    shutil.copytree(REPO / "deploy", workdir / "deploy", ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    (workdir / "dist").mkdir(exist_ok=True)
    build_zip(workdir / "dist" / "adoscale-lambda.zip", None)
    example = Example(workdir, endpoint, variables)
    # The example stays a clean root module: the test plumbing (moto's endpoint, no real credentials) is an
    # override file Terraform merges into its provider block, written only into the test's copy.
    (example.root / "moto_override.tf").write_text(moto_provider_override(endpoint))
    example.init()
    return example


def init_offline(module: Path) -> dict[str, str]:
    """`terraform init` for a copy of a module whose plan must never reach AWS or moto: the provider points
    at a closed loopback port with no retries, so should Terraform ever get past the variables it fails at
    once (each retry would only add its back-off). Returns the environment to run terraform in."""
    provider = moto_provider_override("http://127.0.0.1:9").replace(
        "  skip_credentials", "  max_retries = 0\n  skip_credentials", 1
    )
    (module / "provider_test.tf").write_text(provider)
    env = cli_env(module.parent)
    done = run(["init", "-input=false", "-no-color", "-backend=false"], module, env)
    assert done.returncode == 0, done.stdout + done.stderr
    return env
