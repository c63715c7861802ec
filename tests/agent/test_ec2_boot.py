"""The EC2 pool's boot script (the ec2-pool module's boot.sh) driven with stand-ins: an IMDSv2 endpoint on 127.0.0.1
(instance id, the Spot interruption notice), a fake `aws` (the PAT), `iptables` and power-off that record
what they were asked, and the real agent entrypoint over the fake agent of tests/agent/conftest.py (its
config.sh refuses removal while the listener runs, as the service does; its run.sh does not forward
SIGTERM, as Microsoft's does not).

The entrypoint switches users (registering and job user), as on the instance, so these tests need root and
setpriv, like tests/agent/test_pat_isolation.py; they are skipped, saying so, elsewhere. shellcheck runs
everywhere, on the boot script and the image's bake script.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.agent.conftest import FAKE_CONFIG, FAKE_LISTENER, FAKE_RUN, INSTANCE_ID, TOKEN
from tests.agent.test_pat_isolation import HUNT
from tests.conftest import REPO

BOOT = REPO / "deploy" / "terraform" / "modules" / "ec2-pool" / "boot.sh"
ENTRYPOINT = REPO / "agent" / "entrypoint.sh"
JOB, REGISTER = 61011, 61012

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="switching users needs root and setpriv"
)


@dataclass
class Imds:
    url: str = ""
    spot_action: str | None = None  # None: no interruption scheduled (404), as IMDS answers
    token_requests: int = 0
    without_token: int = 0


@pytest.fixture
def imds() -> Iterator[Imds]:
    state = Imds()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            return None

        def _send(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                state.token_requests += 1
                self._send(200, "imds-session-token")
            else:
                self._send(403, "forbidden")

        def do_GET(self) -> None:
            if self.headers.get("X-aws-ec2-metadata-token") != "imds-session-token":
                state.without_token += 1
                self._send(401, "IMDSv2 token required")  # the launch template requires IMDSv2
            elif self.path == "/latest/meta-data/instance-id":
                self._send(200, INSTANCE_ID)
            elif self.path == "/latest/meta-data/spot/instance-action" and state.spot_action is not None:
                self._send(200, state.spot_action)
            else:
                self._send(404, "not found")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory both test users can traverse (pytest's tmp_path is root-only): the fake agent, the fake
    tools, and a shared log."""
    root = Path(tempfile.mkdtemp(prefix="adoscale-ec2-", dir="/tmp"))
    root.chmod(0o755)
    (root / "since").touch()
    (root / "since").chmod(0o644)
    agent = root / "agent"
    (agent / "bin").mkdir(parents=True)
    for name, body in (("config.sh", FAKE_CONFIG), ("run.sh", FAKE_RUN), ("bin/Agent.Listener", FAKE_LISTENER)):
        (agent / name).write_text(body)
        (agent / name).chmod(0o755)
    shared = root / "shared"
    (shared / "state").mkdir(parents=True)
    for path in (shared, shared / "state"):
        path.chmod(0o1777)
    (shared / "calls.log").touch()  # root's fakes write first; both test users append after them
    (shared / "calls.log").chmod(0o666)
    tools = root / "bin"
    tools.mkdir()
    fakes = {
        "aws": f'echo "aws $1 $2" >> "$FAKE_LOG"\ncase "$1" in secretsmanager|ssm) printf "%s\\n" "{TOKEN}";; '
        "*) exit 1;; esac",
        "iptables": 'echo "iptables $*" >> "$FAKE_LOG"',
        "poweroff": 'echo "poweroff" >> "$FAKE_LOG"',
    }
    for name, body in fakes.items():
        (tools / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        # The fake `aws` stands in for the secret store and holds the token: root's alone, as the store is
        # reachable only with the instance role's credentials, which IMDS gives root alone.
        (tools / name).chmod(0o700 if name == "aws" else 0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _env(world: Path, imds: Imds, **extra: str) -> dict[str, str]:
    shared = world / "shared"
    env = {
        "PATH": f"{world / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "FAKE_LOG": str(shared / "calls.log"),
        "FAKE_STATE": str(shared / "state"),
        "ado_url": "https://dev.azure.com/contoso",
        "pool": "linux-docker",
        "pat_parameter_name": "/adoscale/pat",
        "agent_name_prefix": "ado-",
        "agent_dir": str(world / "agent"),
        "entrypoint": str(ENTRYPOINT),
        "job_user": f"{JOB}:{JOB}",
        "register_user": str(REGISTER),
        "imds_endpoint": imds.url,
        "poweroff_command": str(world / "bin" / "poweroff"),
        "spot_poll_seconds": "0.2",
    }
    env.update(extra)
    return env


def _calls(world: Path) -> list[str]:
    log = world / "shared" / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def _no_token(world: Path, *outputs: str) -> None:
    for text in outputs:
        assert TOKEN not in text
    for path in world.rglob("*"):
        if path.is_file() and path != world / "bin" / "aws":
            assert TOKEN.encode() not in path.read_bytes(), f"the token was written to {path}"


def _wait_for(check: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.05)
    return False


@needs_root
def test_one_job_named_after_the_instance_then_removal_and_power_off(world: Path, imds: Imds) -> None:
    done = subprocess.run([str(BOOT)], env=_env(world, imds), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = _calls(world)
    order = [c.split()[0] for c in calls]
    # IMDS closed to both users first, then the PAT, then register, one job, removal, power-off.
    assert order == ["iptables", "iptables", "aws", "config", "run", "job", "remove", "poweroff"], calls
    assert calls[0] == f"iptables -w -I OUTPUT -d 169.254.169.254 -m owner --uid-owner {JOB} -j REJECT"
    assert calls[1] == f"iptables -w -I OUTPUT -d 169.254.169.254 -m owner --uid-owner {REGISTER} -j REJECT"
    assert calls[2] == "aws ssm get-parameter"
    assert f"--agent ado-{INSTANCE_ID}" in calls[3] and "--pool linux-docker" in calls[3]
    assert calls[3].endswith("token=set")
    assert calls[4] == "run --once token-in-env=no"
    assert calls[6] == "remove attempt=1 token=set"
    assert imds.token_requests == 1 and imds.without_token == 0  # IMDSv2 only
    _no_token(world, done.stdout, done.stderr)


@needs_root
def test_a_spot_interruption_notice_stops_the_job_and_removes_the_agent(world: Path, imds: Imds) -> None:
    env = _env(world, imds, FAKE_JOB_SECONDS="30", FAKE_CANCEL_SECONDS="1")
    process = subprocess.Popen([str(BOOT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: any(c.startswith("run") for c in _calls(world)), 20), _calls(world)
        imds.spot_action = '{"action": "terminate", "time": "2026-12-05T00:02:00Z"}'
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    calls = _calls(world)
    assert "listener got TERM" in calls
    assert not any(c.startswith("remove refused") for c in calls)  # removal waited for the listener
    assert calls[-2:] == ["remove attempt=1 token=set", "poweroff"]
    assert process.returncode == 143 and "Spot interruption notice" in stderr
    _no_token(world, stdout, stderr)


@needs_root
def test_a_shutdown_from_outside_reaches_the_agent(world: Path, imds: Imds) -> None:
    env = _env(world, imds, FAKE_JOB_SECONDS="30")
    process = subprocess.Popen([str(BOOT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: any(c.startswith("run") for c in _calls(world)), 20), _calls(world)
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert "listener got TERM" in _calls(world)
    assert _calls(world)[-2:] == ["remove attempt=1 token=set", "poweroff"]
    assert process.returncode == 143, stderr


@needs_root
@pytest.mark.parametrize(
    ("change", "says", "code"),
    [
        ({"job_user": "0:0"}, "job_user must not be root", 2),
        ({"pat_parameter_name": ""}, "no PAT source", 2),
        ({"imds_endpoint": "http://127.0.0.1:9"}, "IMDSv2 is not reachable", 1),
    ],
)
def test_a_failed_start_says_why_and_still_powers_off(
    world: Path, imds: Imds, change: dict[str, str], says: str, code: int
) -> None:
    done = subprocess.run([str(BOOT)], env=_env(world, imds, **change), capture_output=True, text=True, timeout=60)
    assert done.returncode == code and says in done.stderr
    assert _calls(world)[-1] == "poweroff"
    assert not any(c.startswith("config") for c in _calls(world))


@needs_root
def test_a_job_step_cannot_find_the_pat(world: Path, imds: Imds) -> None:
    """The hunt of test_pat_isolation as the job: every process's environment and command line it can
    read, its parent's, and every readable file written since the test began. It must find nothing."""
    (world / "agent" / "run.sh").write_text(HUNT)
    hunt_log = world / "shared" / "hunt.log"
    env = _env(
        world,
        imds,
        HUNT_OUT=str(hunt_log),
        HUNT_NEEDLE_REVERSED=TOKEN[4:][::-1],
        HUNT_SINCE=str(world / "since"),
        AZP_AGENT_DIR=str(world / "agent"),
    )
    done = subprocess.run([str(BOOT)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    hunt = hunt_log.read_text()
    assert "hunt done" in hunt and f"uid={JOB} gid={JOB}" in hunt, hunt
    assert int(hunt.split("proc-readable=")[1].split()[0]) > 0
    assert "FOUND" not in hunt, hunt
    assert TOKEN not in done.stdout + done.stderr


def test_shellcheck_clean() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    bake = REPO / "agent" / "ec2" / "bake-linux.sh"
    done = subprocess.run([str(shellcheck), str(BOOT), str(bake)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def _terraform_render(tmp_path: Path, script: Path, values: dict[str, str]) -> str:
    """The script rendered by Terraform's own templatefile() (`terraform console`), as the module does."""
    from tests.deploy.terraform import cli_env, terraform_binary

    pairs = ", ".join(f"{key} = {json.dumps(value)}" for key, value in values.items())
    expression = f"jsonencode(templatefile({json.dumps(str(script))}, {{ {pairs} }}))"
    done = subprocess.run(
        [terraform_binary(), "console"],
        input=expression,
        cwd=tmp_path,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return str(json.loads(json.loads(done.stdout.strip())))


@pytest.mark.parametrize("name", ["boot.sh", "boot.ps1"])
def test_terraform_renders_the_scripts_changing_only_the_assignments(tmp_path: Path, name: str) -> None:
    """templatefile() reads every dollar-brace sequence: only the assignments at the top may hold one, and
    rendering changes nothing else (the module's variables, `boot_vars` in main.tf, all given)."""
    script = BOOT.parent / name
    main = (BOOT.parent / "main.tf").read_text()
    names = re.findall(r"^\s{4}(\w+)\s+=", main[main.index("boot_vars = {") : main.index("user_data =")], re.M)
    rendered = _terraform_render(tmp_path, script, dict.fromkeys(names, "X"))
    source = script.read_text()
    assert len(rendered.splitlines()) == len(source.splitlines())
    changed = [(a, b) for a, b in zip(source.splitlines(), rendered.splitlines(), strict=True) if a != b]
    # boot.ps1 quotes each value (`${replace(name, ...)}`, tests/agent/test_ec2_boot_windows.py says how).
    assigned = r"\$?\w+ ?= ?['\"]\$\{(\w+|replace\(\w+, [^}]+\))\}['\"]"
    assert changed and all(re.fullmatch(assigned, a.strip()) for a, _ in changed), changed
    if name == "boot.sh":
        assert subprocess.run(["bash", "-n"], input=rendered, text=True, capture_output=True).returncode == 0
