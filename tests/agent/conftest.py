"""Fakes for driving the agent scripts without Docker, ECS or EC2: an agent directory whose config.sh
and run.sh record what they were asked, and a metadata endpoint on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TOKEN = "pat-SECRET-value-7f3a9c"
TASK_ID = "0123456789abcdef0123456789abcdef"
INSTANCE_ID = "i-0abc1234def567890"

FAKE_CONFIG = r"""#!/usr/bin/env bash
# Records its arguments (never the token) and whether the token reached it through the environment.
log="$FAKE_LOG"
if [ "${1:-}" = "remove" ]; then
  pidfile="$FAKE_STATE/listener.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "remove refused: the agent is running a job" >> "$log"
    exit 1
  fi
  count_file="$FAKE_STATE/remove-count"
  count=$(( $(cat "$count_file" 2>/dev/null || echo 0) + 1 ))
  echo "$count" > "$count_file"
  echo "remove attempt=$count token=$([ -n "${VSTS_AGENT_INPUT_TOKEN:-}" ] && echo set || echo unset)" >> "$log"
  if [ "$count" -le "${FAKE_REMOVE_FAILS:-0}" ]; then exit 1; fi
  exit 0
fi
echo "config $* token=$([ -n "${VSTS_AGENT_INPUT_TOKEN:-}" ] && echo set || echo unset)" >> "$log"
exit "${FAKE_CONFIG_EXIT:-0}"
"""

# Built like Microsoft's run.sh (azure-pipelines-agent, src/Misc/layoutroot/run.sh): it starts
# bin/Agent.Listener as a child and waits for it; it neither traps nor forwards SIGTERM, so a TERM sent to
# run.sh alone ends run.sh and leaves the listener running.
FAKE_RUN = r"""#!/usr/bin/env bash
"$(dirname "$0")/bin/Agent.Listener" run "$@"
exit $?
"""

# Plays the listener: records that it ran and whether the token leaked into its environment, holds a pid
# file while it runs (the fake config.sh refuses removal meanwhile, as the service refuses to remove an
# agent that is running a job), cancels its job on SIGTERM, and exits 0 after its --once job whatever the
# job's result, as the real listener does. FAKE_CANCEL_SECONDS: how long cancelling takes;
# FAKE_IGNORE_TERM=1: a listener that does not stop.
FAKE_LISTENER = r"""#!/usr/bin/env bash
pidfile="$FAKE_STATE/listener.pid"
leaked=no
if env | grep -q "SECRET-value"; then leaked=yes; fi  # a fragment of the test token
shift  # "run"
echo "run $* token-in-env=$leaked" >> "$FAKE_LOG"
if [ "${FAKE_IGNORE_TERM:-0}" = 1 ]; then
  (trap '' TERM; exec sleep "${FAKE_JOB_SECONDS:-0}") &  # the job's processes ignore TERM too
else
  sleep "${FAKE_JOB_SECONDS:-0}" &
fi
sleeper=$!
cancel() {
  echo "listener got TERM" >> "$FAKE_LOG"
  [ "${FAKE_IGNORE_TERM:-0}" = 1 ] && return
  sleep "${FAKE_CANCEL_SECONDS:-0}"
  kill "$sleeper" 2>/dev/null
  rm -f "$pidfile"
  exit 0
}
trap cancel TERM
# The pid file (what the tests wait for before stopping the agent) only once TERM is handled, as the real
# listener handles it from its start: written earlier, a TERM could end this stand-in before its trap.
echo $$ > "$pidfile"
while kill -0 "$sleeper" 2>/dev/null; do wait "$sleeper"; done
echo "job result=${FAKE_JOB_RESULT:-succeeded}" >> "$FAKE_LOG"
rm -f "$pidfile"
exit 0
"""

FAKE_SVC = r"""#!/usr/bin/env bash
echo "svc $*" >> "$FAKE_LOG"
"""


@dataclass
class Metadata:
    """What the fake metadata endpoint answers; tags may be removed by a test."""

    url: str = ""
    task_arn: str = f"arn:aws:ecs:us-east-1:123456789012:task/ado-agents/{TASK_ID}"
    tags: dict[str, str] = field(default_factory=dict)
    token_requests: int = 0


@pytest.fixture
def metadata() -> Iterator[Metadata]:
    state = Metadata(
        tags={"adoscale:project": "Fabrikam", "adoscale:environment": "prod-vms", "adoscale:vm-tags": "web,blue"}
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            return None

        def _send(self, status: int, body: str, content_type: str = "text/plain") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
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
            if self.path == "/task":
                self._send(200, json.dumps({"Cluster": "ado-agents", "TaskARN": state.task_arn}), "application/json")
                return
            if self.headers.get("X-aws-ec2-metadata-token") != "imds-session-token":
                self._send(401, "IMDSv2 token required")  # IMDSv1 is refused, as required on the template
                return
            if self.path == "/latest/meta-data/instance-id":
                self._send(200, INSTANCE_ID)
            elif self.path.startswith("/latest/meta-data/tags/instance/"):
                key = self.path.rsplit("/", 1)[1]
                if key in state.tags:
                    self._send(200, state.tags[key])
                else:
                    self._send(404, "not found")
            else:
                self._send(404, "not found")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def agent_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "agent"
    directory.mkdir()
    (directory / "bin").mkdir()
    scripts = (("config.sh", FAKE_CONFIG), ("run.sh", FAKE_RUN), ("svc.sh", FAKE_SVC))
    for name, body in (*scripts, ("bin/Agent.Listener", FAKE_LISTENER)):
        script = directory / name
        script.write_text(body)
        script.chmod(0o755)
    (tmp_path / "state").mkdir()
    return directory
