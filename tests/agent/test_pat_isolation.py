"""The PAT out of the jobs' reach: the entrypoint started as root (as in the image, ECS injecting the PAT
into its environment), registering as one user and running the agent as another. The fake run.sh is the
"job step": running as the job user inside the entrypoint's process tree, it hunts for the token in every
process's environment and command line under /proc, in its parent's (the entrypoint's) environment, and in
every file it can read under the agent directory, /tmp, /var/tmp, /dev/shm and /run. It must find nothing.
The control case (no separation, today's behaviour before this change) must find it, so the hunt is real.

Needs root (to switch users with setpriv) and setpriv; skipped, saying so, where either is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.conftest import TOKEN
from tests.conftest import REPO

ENTRYPOINT = REPO / "agent" / "entrypoint.sh"
JOB, REGISTER = 61001, 61002  # numeric ids: no account is created on the machine running the tests

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="switching users needs root and setpriv"
)

# config.sh as the real one leaves the agent directory: settings, credentials, and the key readable only by
# the user that wrote it. Records who ran it and whether it had the token, never the token.
CONFIG = r"""#!/usr/bin/env bash
if [ "${1:-}" = "remove" ]; then
  echo "remove uid=$(id -u) token=$([ -n "${VSTS_AGENT_INPUT_TOKEN:-}" ] && echo set || echo unset)" >> "$FAKE_LOG"
  rm -f .agent .credentials .credentials_rsaparams
  exit 0
fi
echo "config uid=$(id -u) token=$([ -n "${VSTS_AGENT_INPUT_TOKEN:-}" ] && echo set || echo unset)" >> "$FAKE_LOG"
echo '{"serverUrl": "https://dev.azure.com/contoso"}' > .agent
echo '{"scheme": "OAuth"}' > .credentials
echo 'rsa-key' > .credentials_rsaparams && chmod 600 .credentials_rsaparams
mkdir -p _diag && echo "configured" > _diag/config.log
"""

# The job step. Only bash, grep and cat: what any pipeline step has. Writes its findings to $HUNT_OUT.
HUNT = r"""#!/usr/bin/env bash
out="$HUNT_OUT"
# The needle arrives reversed, so that the hunt's own environment does not hold it; it is never an argument.
needle=$(rev <<<"$HUNT_NEEDLE_REVERSED")
found() { grep -qF -f <(printf '%s\n' "$needle") "$@"; }
{
  echo "uid=$(id -u) gid=$(id -g)"
  readable=0
  for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do
    if content=$(cat "$f" 2>/dev/null | tr '\0' '\n'); then
      readable=$((readable + 1))
      if found <<<"$content"; then echo "FOUND $f"; fi
    fi
  done
  echo "proc-readable=$readable"
  if cat "/proc/$PPID/environ" >/dev/null 2>&1; then echo "parent=readable"; else echo "parent=denied"; fi
  if env | found; then echo "FOUND own environment"; fi
  while IFS= read -r -d '' f; do
    if found "$f" 2>/dev/null; then echo "FOUND file $f"; fi
  # Files written since the test began: only those can hold what this run's entrypoint was given (and the
  # machine's older files, a CI checkout's virtualenv among them, would take minutes to read).
  done < <(find "$AZP_AGENT_DIR" /tmp /var/tmp /dev/shm /run -xdev -type f -readable -size -5M \
             -newer "$HUNT_SINCE" -print0 2>/dev/null)
  cd "$AZP_AGENT_DIR" || exit 1
  if cat .credentials_rsaparams .agent .credentials >/dev/null 2>&1; then echo "agent-files=readable"; fi
  if { echo x >> .agent; } 2>/dev/null; then echo "agent-settings=writable"; else echo "agent-settings=readonly"; fi
  if touch new-file 2>/dev/null; then echo "agent-dir=writable"; else echo "agent-dir=readonly"; fi
  echo "hunt done"
} >> "$out"
"""


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory every test user can traverse (pytest's tmp_path is root-only)."""
    root = Path(tempfile.mkdtemp(prefix="adoscale-pat-", dir="/tmp"))
    root.chmod(0o755)
    (root / "since").touch()  # the hunt reads files newer than this
    (root / "since").chmod(0o644)
    agent = root / "agent"
    agent.mkdir()
    for name, body in (("config.sh", CONFIG), ("run.sh", HUNT)):
        (agent / name).write_text(body)
        (agent / name).chmod(0o755)
    shared = root / "shared"  # the fakes' log and the hunt's report: writable by both users
    (shared / "state").mkdir(parents=True)
    for path in (shared, shared / "state"):
        path.chmod(0o1777)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(world: Path, separated: bool) -> tuple[subprocess.CompletedProcess[str], str, list[str]]:
    shared = world / "shared"
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "AZP_URL": "https://dev.azure.com/contoso",
        "AZP_POOL": "linux-fargate",
        "AZP_TOKEN": TOKEN,  # as ECS injects the secret
        "AZP_AGENT_DIR": str(world / "agent"),
        "AZP_AGENT_NAME": "job-isolation",
        "FAKE_LOG": str(shared / "calls.log"),
        "FAKE_STATE": str(shared / "state"),
        "HUNT_OUT": str(shared / "hunt.log"),
        "HUNT_NEEDLE_REVERSED": TOKEN[4:][::-1],  # a fragment: finds the token however it is framed
        "HUNT_SINCE": str(world / "since"),
    }
    if separated:
        env |= {"AZP_JOB_USER": f"{JOB}:{JOB}", "AZP_REGISTER_USER": str(REGISTER)}
    done = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=120)
    hunt = (shared / "hunt.log").read_text() if (shared / "hunt.log").exists() else ""
    calls = (shared / "calls.log").read_text().splitlines() if (shared / "calls.log").exists() else []
    return done, hunt, calls


def test_a_job_step_cannot_find_the_pat(world: Path) -> None:
    done, hunt, calls = _run(world, separated=True)
    assert done.returncode == 0, done.stderr
    assert "hunt done" in hunt, hunt
    assert f"uid={JOB} gid={JOB}" in hunt  # the job ran as the job user...
    assert "parent=denied" in hunt  # ...inside the entrypoint's tree, which it may not inspect
    assert int(hunt.split("proc-readable=")[1].split()[0]) > 0  # the hunt did read what it may
    assert "FOUND" not in hunt, hunt
    # The agent can read what it needs and cannot change what the removal (with the PAT) will read.
    assert "agent-files=readable" in hunt and "agent-settings=readonly" in hunt and "agent-dir=readonly" in hunt
    # Registration and removal still got the token, as the other user, and the agent's files are not world-readable.
    assert [c.split()[0] for c in calls] == ["config", "remove"]
    assert calls == [f"config uid={REGISTER} token=set", f"remove uid={REGISTER} token=set"]
    assert TOKEN not in done.stdout + done.stderr
    assert (world / "agent").stat().st_uid == REGISTER
    assert (world / "agent" / "_work").stat().st_uid == JOB


def test_without_separation_the_same_hunt_finds_it(world: Path) -> None:
    """The control: run as one user (the image before this change), the job step reads the token."""
    done, hunt, _calls = _run(world, separated=False)
    assert done.returncode == 0, done.stderr
    assert "hunt done" in hunt and "FOUND /proc/" in hunt


@pytest.mark.parametrize(
    ("job", "register", "says"),
    [("61001", "61002", "uid:gid"), ("61001:61001", "61001", "two different users"), ("0:0", "61002", "neither root")],
)
def test_bad_user_settings_exit_2(world: Path, job: str, register: str, says: str) -> None:
    env = {
        "PATH": os.environ["PATH"], "AZP_URL": "https://x", "AZP_POOL": "p", "AZP_TOKEN": TOKEN,
        "AZP_AGENT_DIR": str(world / "agent"), "AZP_JOB_USER": job, "AZP_REGISTER_USER": register,
    }  # fmt: skip
    done = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and says in done.stderr
