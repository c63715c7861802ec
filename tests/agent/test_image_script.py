"""scripts/build-agent-image.sh with a fake docker and aws on PATH (no Docker engine here): the argv it
would run, the ECR login through a pipe, refusals of bad input, and one version everywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "build-agent-image.sh"
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/adoscale-agent"
DOCKERFILE_VERSION = re.search(r"^ARG AGENT_VERSION=(.+)$", (REPO / "agent" / "Dockerfile").read_text(), re.M)


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # Each call is one line of NUL-free, tab-separated argv; login also records what came on stdin.
    (bin_dir / "docker").write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1" = login ]; then printf "login\\t%s\\tstdin=%s\\n" "$*" "$(cat)" >> "$FAKE_LOG"; exit 0; fi\n'
        '(IFS=$\'\\t\'; printf "%s\\n" "docker	$*") >> "$FAKE_LOG"\n'
    )
    (bin_dir / "aws").write_text('#!/usr/bin/env bash\necho "aws $*" >> "$FAKE_LOG"\nprintf "ecr-password-123"\n')
    for tool in ("docker", "aws"):
        (bin_dir / tool).chmod(0o755)
    return bin_dir


def _run(tmp_path: Path, fakes: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{fakes}:{os.environ['PATH']}", "FAKE_LOG": str(tmp_path / "calls.log"), "HOME": str(tmp_path)}
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30)


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_builds_both_architectures_tagged_with_the_agent_version_and_pushes(tmp_path: Path, fakes: Path) -> None:
    assert DOCKERFILE_VERSION is not None
    version = DOCKERFILE_VERSION.group(1)
    done = _run(tmp_path, fakes, "--repository", ECR)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{ECR}:{version}"
    calls = [c for c in _calls(tmp_path) if c != "docker\tbuildx\tversion"]  # the buildx presence check
    assert calls[0] == "aws ecr get-login-password --region eu-west-1"
    assert calls[1].startswith("login\t") and "--password-stdin" in calls[1] and "stdin=ecr-password-123" in calls[1]
    assert "ecr-password-123" not in calls[1].split("stdin=")[0]  # never in argv
    build = calls[-1].split("\t")
    assert build[:3] == ["docker", "buildx", "build"]
    assert build[build.index("--platform") + 1] == "linux/amd64,linux/arm64"
    assert build[build.index("--tag") + 1] == f"{ECR}:{version}"
    assert f"AGENT_VERSION={version}" in build and "--push" in build
    assert build[-1] == str(REPO / "agent")


def test_load_builds_one_platform_without_login(tmp_path: Path, fakes: Path) -> None:
    done = _run(
        tmp_path, fakes, "--repository", "ado-agent", "--load", "--platforms", "linux/arm64", "--tag", "4.258.1-2"
    )
    assert done.returncode == 0, done.stderr
    build = _calls(tmp_path)[-1].split("\t")
    assert "--load" in build and "--push" not in build
    assert build[build.index("--platform") + 1] == "linux/arm64"
    assert build[build.index("--tag") + 1] == "ado-agent:4.258.1-2"
    assert not any(c.startswith(("aws", "login")) for c in _calls(tmp_path))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "--repository is required"),
        (("--repository", ECR, "--tag", "latest"), "IMMUTABLE"),
        (("--repository", f"{ECR}:1.0"), "takes no tag"),
        (("--repository", ECR, "--platforms", "linux/s390x"), "unsupported platform"),
        (("--repository", ECR, "--load"), "one platform"),
        (("--repository", ECR, "--version", "main"), "look like"),
        (("--bogus",), "unknown argument"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path: Path, fakes: Path, args: tuple[str, ...], says: str) -> None:
    done = _run(tmp_path, fakes, *args)
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr
    assert not any(c.startswith("docker\tbuildx\tbuild") for c in _calls(tmp_path))


def test_one_agent_version_everywhere() -> None:
    """The Dockerfile's version is the image tag the task definition uses and the version the VMs install."""
    assert DOCKERFILE_VERSION is not None
    version = DOCKERFILE_VERSION.group(1)
    modules = REPO / "deploy" / "terraform"
    pool = (modules / "modules" / "container-pool" / "variables.tf").read_text()
    vms = (modules / "modules" / "vm-environment" / "variables.tf").read_text()
    example = (modules / "examples" / "complete" / "variables.tf").read_text()
    for text, variable in ((pool, "image_tag"), (vms, "agent_version"), (example, "agent_image_tag")):
        block = text.split(f'variable "{variable}"', 1)[1].split("\n}", 1)[0]
        assert f'default     = "{version}"' in block, f"{variable} default is not {version}"


def test_shellcheck_clean() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "shellcheck"), str(SCRIPT)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout
