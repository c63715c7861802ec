"""What the CLI prints when nothing is wrong, and how it prints it: no library chatter without -vv, no
warning on the demo's happy path, tables that fit the terminal or stack below 100 columns, and a foreign
error page never pasted into a cell."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from adoscale.cli.commands import register
from adoscale_lab.demo.run import DemoPool, run_demo
from adoscale_lab.emulator import AdoModel
from tests.aws import served_moto
from tests.cli.conftest import CliWorld, invoke
from tests.conftest import PAT

# What botocore and httpx log at INFO on every such run (credentials found, each HTTP request).
LIBRARY_INFO = ("Found credentials", "HTTP Request:")


def _adoscale(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed command in its own process, as a user runs it (logging set up from scratch)."""
    command = [str(Path(sys.executable).with_name("adoscale")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow  # three processes
def test_reconcile_is_quiet_by_default_and_shows_the_libraries_only_with_vv(cli_world: CliWorld) -> None:
    cli_world.model.queue_job(cli_world.model.pool_by_name("linux").id)
    path = str(cli_world.path)
    with served_moto() as aws_url:
        env = {**os.environ, "AWS_ENDPOINT_URL": aws_url, "AZP_TOKEN": PAT, "COLUMNS": "100"}
        quiet = _adoscale("reconcile", "-c", path, "--dry-run", "--json", env=env)
        one = _adoscale("reconcile", "-c", path, "--dry-run", "--json", "-v", env=env)
        two = _adoscale("reconcile", "-c", path, "--dry-run", "--json", "-vv", env=env)
    assert quiet.returncode == one.returncode == two.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["pools"][0]["launched"] == 1
    assert not any(line in quiet.stderr for line in LIBRARY_INFO) and " INFO " not in quiet.stderr, quiet.stderr
    assert "INFO adoscale" in one.stderr and not any(line in one.stderr for line in LIBRARY_INFO), one.stderr
    assert all(line in two.stderr for line in LIBRARY_INFO), two.stderr
    assert PAT not in quiet.stderr + one.stderr + two.stderr


@pytest.mark.slow  # a demo run
def test_the_demo_happy_path_warns_about_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A real organization always answers its parallel-job limit; the demo's emulator now has one, so the
    'parallel-job limit unavailable ... 404' warning no longer prints on every run."""
    caplog.set_level(logging.WARNING)
    pools = (DemoPool("linux", {"docker": ""}, ("docker",), jobs=2, max_agents=2),)
    summary = run_demo(console=Console(file=io.StringIO(), width=120), live=False, seed=3, pools=pools, interval_s=1.0)
    assert summary.ok
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("columns", [80, 100])
def test_the_reconcile_report_fits_or_stacks_never_cut(cli_world: CliWorld, columns: int) -> None:
    for _ in range(2):
        cli_world.model.queue_job(cli_world.model.pool_by_name("linux").id)
    result = invoke("reconcile", "-c", str(cli_world.path), columns=columns)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in _lines(result.stdout)) <= columns, result.stdout
    flat = " ".join(result.stdout.split())
    if columns == 80:  # stacked: every figure with its name
        assert "linux: queued 2, running 0, idle 0, starting 0, launched 2" in flat, result.stdout
    else:  # a table whose headers are whole
        assert all(h in flat for h in ("queued", "running", "starting", "launched", "drained", "deleted"))


@pytest.mark.slow  # a simulation
@pytest.mark.parametrize("command", [["cost"], ["simulate", "-w", "quiet", "-p", "adoscale"]], ids=["cost", "simulate"])
def test_rig_tables_fit_80_columns(command: list[str]) -> None:
    from adoscale.cli.commands import register

    register()
    result = invoke(*command, columns=80)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in _lines(result.stdout)) <= 80, result.stdout
    assert "…" not in result.stdout  # nothing cut


class _HtmlError(BaseHTTPRequestHandler):
    """A proxy or load balancer in front of AWS answering its own error page."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        page = b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n<body>" + b"x" * 400
        page += b"</body></html>"
        self.send_response(500)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def html_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlError)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_an_html_error_page_is_not_pasted_into_the_table(
    tmp_path: Path, model: AdoModel, org_url: str, html_aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adoscale.cli.commands import register

    register()
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    model.queue_job(pool)
    monkeypatch.setenv("AZP_TOKEN", PAT)
    path = tmp_path / "adoscale.json"
    ecs = {"cluster": "c", "task_definition": "t", "subnets": ["subnet-1"]}
    path.write_text(json.dumps({"organization_url": org_url, "pools": [{"name": "linux", "ecs": ecs}]}))
    result = invoke("reconcile", "-c", str(path), columns=100)
    assert result.exit_code == 1, result.output
    assert "<html" not in result.output.lower() and "<!doctype" not in result.output.lower(), result.output
    assert "(HTML page omitted)" in " ".join(result.stdout.split()), result.stdout


@pytest.mark.parametrize("columns", [80, 100])
@pytest.mark.parametrize("group", ["", "config", "hooks", "environments"])
def test_every_command_is_listed_on_one_line(group: str, columns: int) -> None:
    """A command list is read down its first column: each command's summary fits on its row. Listed from
    the whole docstring, as before `short_help`, they ran on for up to six rows broken mid-sentence."""
    register()
    result = invoke(*([group] if group else []), "--help", columns=columns)
    assert result.exit_code == 0, result.output
    panel = result.output.split("Commands", 1)[1].splitlines()[1:]
    rows = [line for line in panel if line.startswith("│")]
    assert len(rows) >= 1 and all(len(line) <= columns for line in result.output.splitlines())
    assert all(not row[2].isspace() for row in rows), "\n".join(rows)  # no row continues the one above
