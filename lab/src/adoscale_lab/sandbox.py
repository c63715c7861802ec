"""`adoscale sandbox`: Azure DevOps and AWS on this machine, set up as the demo sets them up, for trying the
real commands (`reconcile`, `serve`, `status`, `hooks`) against them from another terminal.

The ADO emulator serves HTTP on 127.0.0.1; AWS is moto, in this process and served on 127.0.0.1 to other
processes (`AWS_ENDPOINT_URL`). moto needs three things real AWS does not to run agent tasks, all handled
here as in the demo (`adoscale_lab.demo.aws`, `adoscale_lab.moto_rules`): DNS host names on the VPC and
`memory` on every container definition (or awsvpc RunTask fails), and its task lifecycle held (moto moves a
task a step towards STOPPED on every DescribeTasks, so each pass would find its tasks gone and launch them
again). moto_rules' other rules (atomic conditional writes, ECS's request rules, RunTask's clientToken) are
installed too, and undone on the way out. The PAT and the hook
secret are put into Secrets Manager and the configuration names them, so no secret is ever printed.
Optional emulated agents (the demo's fleet) bring each task's agent online, run a job and exit.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3

from adoscale.compute.ecs import EcsCompute
from adoscale.config import Config, parse_config
from adoscale.secrets import register_secret
from adoscale_lab.demo.aws import create_ecs_world
from adoscale_lab.demo.fleet import Fleet, PoolProfile
from adoscale_lab.demo.world import DemoPool, EcsTaskWorld, config_text, create_ado_pools
from adoscale_lab.emulator import AdoModel, make_app, serve
from adoscale_lab.moto_rules import Patches
from adoscale_lab.moto_rules.dynamodb import atomic_writes
from adoscale_lab.moto_rules.ecs import EcsRules, hold_tasks_running, run_task_client_token

log = logging.getLogger("adoscale_lab.sandbox")

ORG = "sandbox"
REGION = "us-east-1"
LEASE_TABLE = "adoscale-sandbox-leases"
PAT_SECRET = "adoscale-sandbox/pat"  # noqa: S105 (a secret's name, not its value)
HOOK_SECRET = "adoscale-sandbox/hook-secret"  # noqa: S105 (a name)
DEFAULT_POOLS = (
    DemoPool("linux", {"docker": "", "Agent.OS": "Linux"}, ("docker",), jobs=3, max_agents=5),
    DemoPool("java", {"java": "17", "Agent.OS": "Linux"}, ("java -equals 17",), jobs=0, max_agents=2),
)
# moto accepts any credentials; these only have to be present (botocore refuses to sign without any).
AWS_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox", "AWS_DEFAULT_REGION": REGION}


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A running sandbox: where its services are, and the files written for the user."""

    ado_url: str
    aws_url: str
    config_path: Path
    env_path: Path
    model: AdoModel
    pool_ids: dict[str, int]
    config: Config

    @property
    def environment(self) -> dict[str, str]:
        return {**AWS_ENVIRONMENT, "AWS_ENDPOINT_URL": self.aws_url}


@contextmanager
def running_sandbox(
    directory: Path,
    *,
    ado_port: int = 0,
    aws_port: int = 0,
    pools: tuple[DemoPool, ...] = DEFAULT_POOLS,
    agents: bool = True,
    seed: int = 7,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Iterator[Sandbox]:
    """Start everything, write `adoscale.yaml` and `env.sh` into `directory`, yield; stop everything on exit."""
    from moto import mock_aws
    from moto.server import ThreadedMotoServer

    pat = secrets.token_urlsafe(24)
    hook_secret = secrets.token_urlsafe(24)
    register_secret(pat)
    register_secret(hook_secret)
    model = AdoModel(org=ORG, pat=pat, clock=clock)
    pool_ids = create_ado_pools(model, pools)
    for pool in pools:
        for _ in range(pool.jobs):
            model.queue_job(pool_ids[pool.name], demands=list(pool.demands))
    with serve(make_app(model), port=ado_port) as ado_server, mock_aws():
        # moto made to follow the rules real AWS documents (adoscale_lab.moto_rules): atomic conditional writes
        # (the lease rests on them), ECS's request rules and RunTask's clientToken, tasks held RUNNING.
        patches = Patches()
        atomic_writes(patches)
        EcsRules.install(patches)
        run_task_client_token(patches)
        hold_tasks_running()
        aws = ThreadedMotoServer(ip_address="127.0.0.1", port=aws_port, verbose=False)
        aws.start()
        try:
            host, port = aws.get_host_and_port()
            ecs = boto3.client("ecs", region_name=REGION)
            world = create_ecs_world(boto3.client("ec2", region_name=REGION), ecs)
            dynamodb = boto3.client("dynamodb", region_name=REGION)
            dynamodb.create_table(
                TableName=LEASE_TABLE,
                KeySchema=[{"AttributeName": "pool", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pool", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            secrets_manager = boto3.client("secretsmanager", region_name=REGION)
            secrets_manager.create_secret(Name=PAT_SECRET, SecretString=pat)
            secrets_manager.create_secret(Name=HOOK_SECRET, SecretString=hook_secret)
            extra = (
                f"pat_secret: {PAT_SECRET}",
                f"lease_table: {LEASE_TABLE}",
                "hooks:",
                f"  secret_name: {HOOK_SECRET}",
            )
            org_url = f"{ado_server.url}/{ORG}"
            text = config_text(world, org_url, pools, extra)
            config = parse_config(text, source="<sandbox>")
            directory.mkdir(parents=True, exist_ok=True)
            config_path = directory / "adoscale.yaml"
            config_path.write_text(text)
            sandbox = Sandbox(
                org_url, f"http://{host}:{port}", config_path, directory / "env.sh", model, pool_ids, config
            )
            sandbox.env_path.write_text("".join(f"export {k}={v}\n" for k, v in sandbox.environment.items()))
            if agents:
                compute = EcsCompute(
                    ecs, {p.name: p.ecs for p in config.pools}, organization_url=config.organization_url, clock=clock
                )
                profiles = {p.name: PoolProfile(pool_ids[p.name], dict(p.capabilities)) for p in pools}
                fleet = Fleet(model, EcsTaskWorld(compute, list(config.pools)), profiles, clock, random.Random(seed))
                with _stepping(fleet):
                    yield sandbox
            else:
                yield sandbox
        finally:
            aws.stop()
            patches.undo()


@contextmanager
def _stepping(fleet: Fleet, every_s: float = 0.5) -> Iterator[None]:
    """Step the emulated agents on a thread until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                fleet.step()
            except Exception:  # an agent that failed a step tries again at the next one; the sandbox goes on
                log.exception("emulated agents: step failed")

    thread = threading.Thread(target=loop, name="sandbox-agents", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
