"""`adoscale status` (issue 24's acceptance): after one pass against the emulator and moto with 3 queued jobs
the pool's agents can run and 1 they never can, `status --json` answers for the pool queued 3, unservable 1,
starting 3, the oldest wait in seconds, and the lease; without --json it fits 100 columns."""

from __future__ import annotations

import json
import math
import time

import boto3

from tests.aws import create_lease_table
from tests.cli.conftest import CliWorld, invoke

TABLE = "adoscale-leases"


def _world(cli_world: CliWorld) -> str:
    create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
    pool = cli_world.body["pools"][0] | {"capabilities": ["docker"]}
    path = str(cli_world.write(pools=[pool], lease_table=TABLE))
    linux = cli_world.model.pool_by_name("linux").id
    # The service fails at once a job no registered agent meets: an old offline registration keeps these
    # waiting (the gpu one is still unservable: adoscale's agents never have gpu).
    cli_world.model.register_agent(linux, "old-gpu-agent", {"docker": "", "gpu": ""}, online=False)
    for _ in range(3):
        cli_world.model.queue_job(linux, ["docker"])
    cli_world.model.queue_job(linux, ["gpu"])  # no agent of this pool will ever have it
    return path


def test_status_after_one_pass(cli_world: CliWorld) -> None:
    path = _world(cli_world)
    first = invoke("reconcile", "-c", path, "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["pools"][0]["launched"] == 3
    result = invoke("status", "-c", path, "--json")
    assert result.exit_code == 0, result.output
    [linux] = json.loads(result.stdout)["pools"]
    assert (linux["pool"], linux["queued"], linux["unservable"], linux["starting"]) == ("linux", 3, 1, 3)
    assert isinstance(linux["oldest_queued_s"], float) and 0 <= linux["oldest_queued_s"] < 120
    assert linux["lease"] == {"held": False, "holder": None, "expires_at": None, "error": None}
    # status changes nothing: no task launched, no lease taken
    again = json.loads(invoke("reconcile", "-c", path, "--json", "--dry-run").stdout)["pools"][0]
    assert again["starting"] == 3 and again["launched"] == 0
    assert boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"] == []

    table = invoke("status", "-c", path, columns=100)
    assert table.exit_code == 0, table.output
    lines = [line for line in table.stdout.splitlines() if line.strip()]
    assert max(len(line) for line in lines) <= 100, table.stdout
    assert "unservable" in table.stdout and "free" in table.stdout


def test_status_shows_who_holds_the_lease_until_when(cli_world: CliWorld) -> None:
    path = _world(cli_world)
    until = math.ceil(time.time()) + 45
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName=TABLE,
        Item={"pool": {"S": "linux"}, "owner": {"S": "lambda:abc/123"}, "expires_at": {"N": str(until)}},
    )
    [linux] = json.loads(invoke("status", "-c", path, "--json").stdout)["pools"]
    assert linux["lease"]["held"] is True and linux["lease"]["holder"] == "lambda:abc/123"
    assert linux["lease"]["expires_at"].startswith(time.strftime("%Y-%m-%dT", time.gmtime(until)))
    narrow = invoke("status", "-c", path, columns=80)
    assert "lambda:abc/123" in " ".join(narrow.stdout.split())
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80


def test_status_of_an_unknown_pool_exits_2(cli_world: CliWorld) -> None:
    result = invoke("status", "-c", str(cli_world.path), "--pool", "nosuch")
    assert result.exit_code == 2 and "no pool named nosuch" in result.output
