"""The agent entrypoint and the VM registration script, driven with fakes (no Docker engine here)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.agent.conftest import FAKE_CONFIG, FAKE_SVC, INSTANCE_ID, TASK_ID, TOKEN, Metadata
from tests.conftest import REPO

ENTRYPOINT = REPO / "agent" / "entrypoint.sh"
VM_SCRIPT = REPO / "deploy" / "terraform" / "modules" / "vm-environment" / "register-environment.sh"
TOOLS = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = TOOLS / name
    if not path.exists():
        pytest.fail(f"{name} is required (installed with the dev extras) and is missing from {TOOLS}")
    return str(path)


def _env(tmp_path: Path, agent_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "FAKE_LOG": str(tmp_path / "calls.log"),
        "FAKE_STATE": str(tmp_path / "state"),
        "AZP_URL": "https://dev.azure.com/contoso",
        "AZP_POOL": "linux-fargate",
        "AZP_TOKEN": TOKEN,
        "AZP_AGENT_DIR": str(agent_dir),
    }
    env.update(extra)
    return env


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def _no_token_anywhere(tmp_path: Path, *outputs: str, allowed: tuple[Path, ...] = ()) -> None:
    for text in outputs:
        assert TOKEN not in text
    for path in tmp_path.rglob("*"):
        if path.is_file() and path not in allowed:
            assert TOKEN.encode() not in path.read_bytes(), f"the token was written to {path}"


def test_configure_run_once_remove_in_order_named_after_the_task(
    tmp_path: Path, agent_dir: Path, metadata: Metadata
) -> None:
    env = _env(tmp_path, agent_dir, ECS_CONTAINER_METADATA_URI_V4=metadata.url, AZP_AGENT_NAME_PREFIX="ado-")
    done = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    calls = _calls(tmp_path)
    assert [c.split()[0] for c in calls] == ["config", "run", "job", "remove"]
    config = calls[0]
    assert f"--agent ado-{TASK_ID}" in config
    for flag in ("--unattended", "--replace", "--acceptTeeEula", "--auth pat", "--pool linux-fargate", "--work _work"):
        assert flag in config
    assert "--url https://dev.azure.com/contoso" in config
    assert config.endswith("token=set")  # through VSTS_AGENT_INPUT_TOKEN, not argv
    assert calls[1] == "run --once token-in-env=no"
    assert calls[3] == "remove attempt=1 token=set"
    _no_token_anywhere(tmp_path, done.stdout, done.stderr)


def test_the_container_exits_0_whatever_the_jobs_result(tmp_path: Path, agent_dir: Path, metadata: Metadata) -> None:
    """The listener exits 0 after a --once job whatever the job's result (the result is in Azure DevOps),
    so the container does too; docs/agent.md says what each exit status means."""
    env = _env(tmp_path, agent_dir, ECS_CONTAINER_METADATA_URI_V4=metadata.url, FAKE_JOB_RESULT="failed")
    done = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    assert "job result=failed" in _calls(tmp_path)
    assert _calls(tmp_path)[-1].startswith("remove")


def _start_job(tmp_path: Path, agent_dir: Path, metadata: Metadata, **extra: str) -> subprocess.Popen[str]:
    env = _env(tmp_path, agent_dir, ECS_CONTAINER_METADATA_URI_V4=metadata.url, FAKE_JOB_SECONDS="120", **extra)
    process = subprocess.Popen([str(ENTRYPOINT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while not (tmp_path / "state" / "listener.pid").exists():
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the job never started")
        time.sleep(0.05)  # polling for the job to start, not waiting for a timing to pass
    return process


def _listener_gone(tmp_path: Path) -> bool:
    pidfile = tmp_path / "state" / "listener.pid"
    if not pidfile.exists():
        return True
    try:
        os.kill(int(pidfile.read_text()), 0)
    except ProcessLookupError:
        return True
    return False


def test_sigterm_mid_job_reaches_the_listener_and_the_registration_is_removed(
    tmp_path: Path, agent_dir: Path, metadata: Metadata
) -> None:
    """run.sh as Microsoft ships it neither traps nor forwards SIGTERM: the stop must reach the listener
    itself (within 10 s), the removal must wait until it has exited (the service refuses to remove an agent
    running a job), and nothing may be left running."""
    process = _start_job(tmp_path, agent_dir, metadata, FAKE_CANCEL_SECONDS="2")
    try:
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
        elapsed = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    calls = _calls(tmp_path)
    assert "listener got TERM" in calls
    assert elapsed < 60
    assert process.returncode == 143
    assert not any(c.startswith("remove refused") for c in calls)  # removal waited for the listener
    assert calls[-1] == "remove attempt=1 token=set"
    assert _listener_gone(tmp_path)
    _no_token_anywhere(tmp_path, stdout, stderr)


def test_a_listener_that_does_not_stop_is_killed_after_the_grace_and_then_removed(
    tmp_path: Path, agent_dir: Path, metadata: Metadata
) -> None:
    process = _start_job(tmp_path, agent_dir, metadata, FAKE_IGNORE_TERM="1", AZP_STOP_GRACE_SECONDS="2")
    try:
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143
    assert "did not stop within 2 s: killing it" in stderr
    assert _calls(tmp_path)[-1] == "remove attempt=1 token=set"
    assert _listener_gone(tmp_path)


def test_removal_is_retried_a_bounded_number_of_times(tmp_path: Path, agent_dir: Path, metadata: Metadata) -> None:
    env = _env(
        tmp_path, agent_dir, ECS_CONTAINER_METADATA_URI_V4=metadata.url, FAKE_REMOVE_FAILS="9", AZP_REMOVE_ATTEMPTS="2"
    )
    done = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0  # the job's status, not the cleanup's
    assert [c for c in _calls(tmp_path) if c.startswith("remove")] == [
        "remove attempt=1 token=set",
        "remove attempt=2 token=set",
    ]
    assert "giving up" in done.stderr


@pytest.mark.parametrize("missing", ["AZP_URL", "AZP_POOL", "AZP_TOKEN"])
def test_a_missing_variable_exits_2_naming_it(tmp_path: Path, agent_dir: Path, missing: str) -> None:
    env = _env(tmp_path, agent_dir)
    del env[missing]
    done = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert missing in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert _calls(tmp_path) == []


def test_token_file_and_placeholder_mode(tmp_path: Path, agent_dir: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    env = _env(tmp_path, agent_dir, AZP_TOKEN_FILE=str(token_file), AZP_AGENT_NAME_PREFIX="ado-")
    del env["AZP_TOKEN"]
    done = subprocess.run([str(ENTRYPOINT), "--placeholder"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    calls = _calls(tmp_path)
    assert len(calls) == 1 and "--agent ado-adoscale-placeholder" in calls[0] and calls[0].endswith("token=set")
    _no_token_anywhere(tmp_path, done.stdout, done.stderr, allowed=(token_file,))


def test_outside_ecs_the_host_name_is_used(tmp_path: Path, agent_dir: Path) -> None:
    done = subprocess.run([str(ENTRYPOINT)], env=_env(tmp_path, agent_dir), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    assert f"--agent {os.uname().nodename}" in _calls(tmp_path)[0]


# -- the VM registration script -------------------------------------------------------------------------


@pytest.fixture
def vm_bin(tmp_path: Path) -> Path:
    """Fake `aws` (the PAT from Secrets Manager or SSM) and a `curl` that serves the agent tarball and
    passes every other request to the real curl (the metadata endpoint)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tarball = tmp_path / "agent.tar.gz"
    staging = tmp_path / "staging"
    staging.mkdir()
    for name, body in (("config.sh", FAKE_CONFIG), ("svc.sh", FAKE_SVC)):
        (staging / name).write_text(body)
        (staging / name).chmod(0o755)
    (staging / "bin").mkdir()
    (staging / "bin" / "installdependencies.sh").write_text(
        '#!/usr/bin/env bash\necho "installdependencies" >> "$FAKE_LOG"\n'
    )
    (staging / "bin" / "installdependencies.sh").chmod(0o755)
    with tarfile.open(tarball, "w:gz") as archive:
        for name in ("config.sh", "svc.sh", "bin/installdependencies.sh"):
            archive.add(staging / name, arcname=name)
    real_curl = shutil.which("curl")
    if real_curl is None:
        pytest.fail("curl is required for the VM script tests")
    (bin_dir / "curl").write_text(
        "#!/usr/bin/env bash\n"
        'for arg in "$@"; do case "$arg" in *vsts-agent*|*agent-download*) out=""; prev="";\n'
        '  for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done\n'
        f'  echo "download $arg" >> "$FAKE_LOG"; cp "{tarball}" "$out"; exit 0;; esac; done\n'
        f'exec "{real_curl}" "$@"\n'
    )
    (bin_dir / "aws").write_text(
        "#!/usr/bin/env bash\n"
        'echo "aws $1 $2" >> "$FAKE_LOG"\n'
        f'case "$1" in secretsmanager|ssm) printf "%s\\n" "{TOKEN}";; *) exit 1;; esac\n'
    )
    # The system changes the script makes (a user, a firewall rule, a boot unit, ownership) are recorded,
    # not made: the tests run on a shared machine.
    for tool, body in (
        ("getent", 'echo "getent $*" >> "$FAKE_LOG"; exit 2'),
        ("useradd", 'echo "useradd $*" >> "$FAKE_LOG"'),
        ("iptables", 'echo "iptables $*" >> "$FAKE_LOG"'),
        ("systemctl", 'echo "systemctl $*" >> "$FAKE_LOG"'),
        ("chown", 'echo "chown $*" >> "$FAKE_LOG"'),
    ):
        (bin_dir / tool).write_text(f"#!/usr/bin/env bash\n{body}\n")
    for tool in ("curl", "aws", "getent", "useradd", "iptables", "systemctl", "chown"):
        (bin_dir / tool).chmod(0o755)
    return bin_dir


def _vm_env(tmp_path: Path, vm_bin: Path, metadata: Metadata, **extra: str) -> dict[str, str]:
    env = {
        "PATH": f"{vm_bin}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "FAKE_LOG": str(tmp_path / "calls.log"),
        "FAKE_STATE": str(tmp_path / "state"),
        "ado_url": "https://dev.azure.com/contoso",
        "pat_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ado-pat",
        "agent_version": "4.258.1",
        "agent_dir": str(tmp_path / "azagent"),
        "imds_endpoint": metadata.url,
        "ADOSCALE_SYSTEMD_DIR": str(tmp_path),
    }
    env.update(extra)
    return env


def test_vm_registers_with_the_instance_id_and_the_tags(tmp_path: Path, vm_bin: Path, metadata: Metadata) -> None:
    done = subprocess.run(
        [str(VM_SCRIPT)], env=_vm_env(tmp_path, vm_bin, metadata), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    calls = _calls(tmp_path)
    config = next(c for c in calls if c.startswith("config"))
    assert "--environment" in config and "--environmentname prod-vms" in config and "--projectname Fabrikam" in config
    assert "--addvirtualmachineresourcetags --virtualmachineresourcetags web,blue" in config
    assert f"--agent {INSTANCE_ID}" in config
    for flag in ("--runasservice", "--unattended", "--replace", "--auth pat"):
        assert flag in config
    assert config.endswith("token=set")
    assert calls[-2:] == ["svc install azagent", "svc start"]
    # The jobs' user exists, is refused IMDS (now and at boot) before the agent starts, and owns the agent.
    guard = "iptables -w -I OUTPUT -d 169.254.169.254 -m owner --uid-owner azagent -j REJECT"
    order = [c.split()[0] for c in calls]
    assert "installdependencies" in calls and order.index("installdependencies") < order.index("config")
    assert "useradd --system --create-home --shell /sbin/nologin azagent" in calls
    assert guard in calls and order.index("iptables") < order.index("svc")
    assert guard in (tmp_path / "adoscale-imds-guard.service").read_text()
    assert "systemctl enable adoscale-imds-guard.service" in calls
    assert f"chown -R azagent {tmp_path / 'azagent'}" in calls
    assert metadata.token_requests >= 1  # IMDSv2: a session token first
    _no_token_anywhere(tmp_path, done.stdout, done.stderr, allowed=(vm_bin / "aws",))


def test_vm_template_values_win_over_tags_and_ssm_is_supported(
    tmp_path: Path, vm_bin: Path, metadata: Metadata
) -> None:
    env = _vm_env(tmp_path, vm_bin, metadata, project="Other", environment="staging", pat_parameter_name="/ado/pat")
    del env["pat_secret_arn"]
    metadata.tags.clear()
    done = subprocess.run([str(VM_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = _calls(tmp_path)
    config = next(c for c in calls if c.startswith("config"))
    assert "--projectname Other" in config and "--environmentname staging" in config
    assert "virtualmachineresourcetags" not in config
    assert "aws ssm get-parameter" in calls


def test_vm_refuses_to_run_jobs_as_root(tmp_path: Path, vm_bin: Path, metadata: Metadata) -> None:
    env = _vm_env(tmp_path, vm_bin, metadata, agent_user="root")
    done = subprocess.run([str(VM_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "read the PAT" in done.stderr
    assert not any(c.startswith("aws") for c in _calls(tmp_path))


@pytest.mark.parametrize(("machine", "arch"), [("x86_64", "x64"), ("aarch64", "arm64")])
def test_vm_downloads_the_agent_for_its_architecture(
    tmp_path: Path, vm_bin: Path, metadata: Metadata, machine: str, arch: str
) -> None:
    (vm_bin / "uname").write_text(f"#!/usr/bin/env bash\necho {machine}\n")
    (vm_bin / "uname").chmod(0o755)
    done = subprocess.run(
        [str(VM_SCRIPT)], env=_vm_env(tmp_path, vm_bin, metadata), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    download = next(c for c in _calls(tmp_path) if c.startswith("download"))
    assert download.endswith(f"vsts-agent-linux-{arch}-4.258.1.tar.gz")


@pytest.mark.parametrize(("unset", "named"), [("ado_url", "Azure DevOps URL"), ("pat_secret_arn", "PAT source")])
def test_vm_missing_values_exit_2(tmp_path: Path, vm_bin: Path, metadata: Metadata, unset: str, named: str) -> None:
    env = _vm_env(tmp_path, vm_bin, metadata)
    del env[unset]
    done = subprocess.run([str(VM_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and named in done.stderr


def test_vm_missing_environment_tag_exits_2(tmp_path: Path, vm_bin: Path, metadata: Metadata) -> None:
    del metadata.tags["adoscale:environment"]
    done = subprocess.run(
        [str(VM_SCRIPT)], env=_vm_env(tmp_path, vm_bin, metadata), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "adoscale:environment" in done.stderr


def _render(template: str, values: dict[str, str]) -> str:
    """What Terraform's templatefile() does with this script: it fails on an unknown `${name}`."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"templatefile would fail: unknown variable {name!r}")
        return values[name]

    text = re.sub(r"(?<!\$)\$\{([^}]*)\}", substitute, template)
    assert "%{" not in text
    return text.replace("$${", "${")


def test_vm_script_renders_as_terraform_would_and_still_runs(tmp_path: Path, vm_bin: Path, metadata: Metadata) -> None:
    values = {
        "ado_url": "https://dev.azure.com/contoso",
        "project": "",
        "environment": "",
        "vm_tags": "",
        "pat_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:pat",
        "pat_parameter_name": "",
        "agent_version": "4.258.1",
        "agent_arch": "",
        "agent_download_url": "",
        "agent_user": "",
        "agent_dir": str(tmp_path / "rendered-agent"),
        "imds_endpoint": metadata.url,
    }
    rendered = tmp_path / "user-data.sh"
    rendered.write_text(_render(VM_SCRIPT.read_text(), values))
    rendered.chmod(0o755)
    assert subprocess.run(["bash", "-n", str(rendered)], capture_output=True).returncode == 0
    env = {k: v for k, v in _vm_env(tmp_path, vm_bin, metadata).items() if k.isupper()}
    done = subprocess.run([str(rendered)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert any("--environmentname prod-vms" in c for c in _calls(tmp_path))


# -- linters --------------------------------------------------------------------------------------------


def test_shellcheck_clean() -> None:
    done = subprocess.run([_tool("shellcheck"), str(ENTRYPOINT), str(VM_SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_hadolint_clean() -> None:
    done = subprocess.run([_tool("hadolint"), str(REPO / "agent" / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
