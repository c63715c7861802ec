"""The Lambda package as Lambda runs it: built with the project's own command (`adoscale package`) with
dependencies for this machine's platform, extracted as Lambda extracts it to /var/task, and run by a
fresh interpreter that sees only the package, the standard library and boto3 (the runtime provides boto3;
the Python runtime's docs list it as included). Nothing of the test environment's site-packages leaks in.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore
import dateutil
import jmespath
import s3transfer
import six
import urllib3

REPO = Path(__file__).resolve().parents[1]
# What the Lambda Python runtime brings besides the standard library: boto3 and its own dependencies.
RUNTIME_PROVIDED = (boto3, botocore, s3transfer, jmespath, dateutil, urllib3)


@dataclass(frozen=True)
class LambdaPackage:
    zip_path: Path
    task_root: Path  # the extracted zip: Lambda's /var/task
    runtime_root: Path  # boto3 and its dependencies, as the runtime provides them

    @property
    def pythonpath(self) -> list[str]:
        return [str(self.task_root), str(self.runtime_root)]

    def python(
        self, code: str, *, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run `code` in a fresh interpreter with only the package and the runtime's boto3 on its path
        (`-I -S`: no site-packages, no user site, no PYTHON* variables)."""
        prelude = f"import sys; sys.path[:0] = {self.pythonpath!r}\n"
        return subprocess.run(
            [sys.executable, "-I", "-S", "-c", prelude + code],
            capture_output=True, text=True, timeout=timeout, env=env if env is not None else lambda_environment(),
        )  # fmt: skip


def lambda_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The variables the Lambda runtime sets that the handlers may read at import, and nothing else."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "adoscale-test",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
    }
    env.update(extra or {})
    return env


def pip_platform() -> str:
    """pip's platform tag for this machine (the tests import the zip here, not on arm64 Lambda)."""
    return f"manylinux2014_{platform.machine()}"


def build(workdir: Path) -> LambdaPackage:
    """`adoscale package` for this platform's Python, then extract it and lay out the runtime's boto3."""
    zip_path = workdir / "adoscale-lambda.zip"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    command = [
        str(Path(sys.executable).parent / "adoscale"), "package", "--out", str(zip_path), "--platform", pip_platform(),
        "--python", python, "--build-dir", str(workdir / "deps"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    if done.returncode != 0:
        raise AssertionError(f"adoscale package failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    task_root = workdir / "task"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(task_root)
    runtime_root = workdir / "runtime"
    runtime_root.mkdir()
    for module in RUNTIME_PROVIDED:
        source = Path(module.__file__ or "").parent
        (runtime_root / source.name).symlink_to(source)
    (runtime_root / "six.py").symlink_to(Path(six.__file__ or ""))
    return LambdaPackage(zip_path, task_root, runtime_root)
