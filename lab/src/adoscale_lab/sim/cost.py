"""Monthly cost from a dated price file and a usage model: the seed's estimate, recomputed.

Every price carries its source in `prices.json`. The usage model is deliberately simple and printed
with the result, so that anyone can check the arithmetic.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from adoscale.config import MetricSet
from adoscale.metrics import PUBLISHED
from adoscale.workflow import SCHEDULE_INTERVAL_S, TASK_CHECKS, schedule_input

DAYS_PER_MONTH = 30.42
SECONDS_PER_MONTH = DAYS_PER_MONTH * 86400
HOURS_PER_MONTH = DAYS_PER_MONTH * 24
NETWORK_MODES = ("nat", "public", "endpoints", "none")


def load_prices(path: Path | None = None) -> dict[str, Any]:
    if path is not None:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    text = resources.files("adoscale_lab.sim").joinpath("prices.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass(frozen=True, slots=True)
class Usage:
    """What a month of adoscale uses. Defaults are the seed's assumptions."""

    workflow_interval_s: float = 120.0  # the seed: every 2 minutes
    observations_per_execution: int = 1  # adoscale observes a pool several times per execution
    pools: int = 1
    jobs_per_day: float = 100.0
    job_minutes: float = 5.0
    agent_minutes_per_day: float | None = None  # billed task-minutes; default jobs x duration
    vcpu: float = 0.25
    memory_gb: float = 0.5
    spot_share: float = 0.0
    lambda_ms: float = 300.0
    lambda_memory_gb: float = 0.128
    lambda_arch: str = "x86"
    lambdas_per_observation: int = 3  # queue data, decide, act
    # Invocations per round whatever the number of pools (adoscale's `round` action), and per launch (the
    # waiter's task checks; adoscale: up to TASK_CHECKS, counted in full).
    lambdas_per_round: int = 0
    launches_per_day: float = 0.0
    lambdas_per_launch: int = 0
    workflow_memory_gb: float = 0.064
    # Default: the last round's offset (rounds run concurrently, spread evenly over the interval) plus one
    # round's work, ROUND_SECONDS. A launch in the last round prolongs its execution by its task wait: not
    # counted (docs/performance.md bounds it).
    workflow_seconds: float | None = None
    metrics: int = 2
    ecr_gb: float = 10.0
    secrets: int = 1
    # The agents' network (deploy/terraform/modules/network): nat, public, endpoints, or none (your own VPC,
    # already paid for).
    network_mode: str = "nat"
    az_count: int = 2
    interface_endpoints: int = 6  # ecr.api, ecr.dkr, logs, secretsmanager, ssm, sts
    data_gb_per_job: float = 0.4  # the image pull (about 0.3 GB compressed) plus sources and artefacts
    # Of which the image layers, which ECR serves from S3: through the network module's free S3 gateway
    # endpoint (nat and endpoints modes), not the NAT gateway.
    image_gb_per_job: float = 0.3


# One round's work in an execution: the round action, a pass per pool (concurrent), the transitions.
ROUND_SECONDS = 3.0


def deployed_workflow(usage: Usage) -> Usage:
    """`usage` with adoscale's deployed workflow (`adoscale.workflow`): an execution per schedule tick, a round
    at each offset of the schedule's input, all concurrent, so an execution lasts the last offset plus one
    round; per round one `round` invocation and one `pass` per pool; the waiter's checks per launch."""
    offsets = schedule_input()["offsets"]
    return replace(
        usage,
        workflow_interval_s=float(SCHEDULE_INTERVAL_S),
        observations_per_execution=len(offsets),
        workflow_seconds=offsets[-1] + ROUND_SECONDS,
        lambdas_per_observation=1,
        lambdas_per_round=1,
        lambdas_per_launch=TASK_CHECKS,
    )


@dataclass(frozen=True, slots=True)
class CostLine:
    service: str
    monthly_usd: float
    basis: str


def monthly_costs(usage: Usage, prices: dict[str, Any]) -> list[CostLine]:
    executions = SECONDS_PER_MONTH / usage.workflow_interval_s
    observations = executions * usage.observations_per_execution * usage.pools
    sfn = prices["step_functions_express"]
    rounds = max(1, usage.observations_per_execution)
    seconds = usage.workflow_seconds
    if seconds is None:
        seconds = (rounds - 1) * usage.workflow_interval_s / rounds + ROUND_SECONDS
    workflow = executions * (sfn["request"] + seconds * max(usage.workflow_memory_gb, 0.064) * sfn["gb_second"])
    lam = prices["lambda"]
    invocations = (
        observations * usage.lambdas_per_observation
        + executions * rounds * usage.lambdas_per_round
        + usage.launches_per_day * DAYS_PER_MONTH * usage.lambdas_per_launch
    )
    gb_second = lam["gb_second_arm64"] if usage.lambda_arch == "arm64" else lam["gb_second_x86"]
    lambda_cost = invocations * (lam["request"] + usage.lambda_ms / 1000 * usage.lambda_memory_gb * gb_second)
    agent_minutes = (
        usage.agent_minutes_per_day
        if usage.agent_minutes_per_day is not None
        else usage.jobs_per_day * max(usage.job_minutes, 1.0)
    )
    hours = agent_minutes * DAYS_PER_MONTH / 60
    on_demand = prices["fargate"]
    spot = prices["fargate_spot"]

    def fargate_rate(price: dict[str, float]) -> float:
        return usage.vcpu * price["vcpu_hour"] + usage.memory_gb * price["gb_hour"]

    fargate = hours * ((1 - usage.spot_share) * fargate_rate(on_demand) + usage.spot_share * fargate_rate(spot))
    cw = prices["cloudwatch"]
    cloudwatch = usage.metrics * usage.pools * cw["metric_month"]
    secrets = prices["secrets_manager"]
    # The Lambdas cache the secret (powertools parameters), so API calls are a few per cold start: ignored.
    secret_cost = usage.secrets * secrets["secret_month"]
    return [
        CostLine("Step Functions (Express)", workflow, f"{executions:,.0f} executions of {seconds:.0f} s"),
        CostLine("AWS Lambda", lambda_cost, f"{invocations:,.0f} invocations of {usage.lambda_ms:.0f} ms"),
        CostLine(
            "AWS Fargate",
            fargate,
            f"{hours:,.1f} task-hours at {usage.vcpu} vCPU / {usage.memory_gb} GB, {usage.spot_share:.0%} Spot",
        ),
        CostLine("Amazon ECR", usage.ecr_gb * prices["ecr"]["gb_month"], f"{usage.ecr_gb} GB stored"),
        CostLine("AWS Secrets Manager", secret_cost, f"{usage.secrets} secret; value cached by the Lambdas"),
        CostLine("SSM Parameter Store", 0.0, "1 standard parameter (the configuration)"),
        CostLine("Amazon CloudWatch", cloudwatch, f"{usage.metrics * usage.pools} custom metrics via EMF logs"),
        *network_costs(usage, prices, hours),
    ]


def network_costs(usage: Usage, prices: dict[str, Any], task_hours: float) -> list[CostLine]:
    """The network the agents need to reach Azure DevOps, ECR and the AWS APIs; fixed hourly charges
    dominate at small loads (a NAT gateway can cost more than everything else together)."""
    if usage.network_mode not in NETWORK_MODES:
        raise ValueError(f"network_mode must be one of {', '.join(NETWORK_MODES)}, not {usage.network_mode!r}")
    data_gb = usage.jobs_per_day * DAYS_PER_MONTH * usage.data_gb_per_job
    vpc = prices["vpc"]
    if usage.network_mode == "nat":
        hourly = HOURS_PER_MONTH * (vpc["nat_gateway_hour"] + vpc["public_ipv4_hour"])
        nat_gb = usage.jobs_per_day * DAYS_PER_MONTH * max(0.0, usage.data_gb_per_job - usage.image_gb_per_job)
        return [
            CostLine(
                "VPC: NAT gateway",
                hourly + nat_gb * vpc["nat_gateway_gb"],
                f"1 NAT gateway and its Elastic IP all month, {nat_gb:,.0f} GB processed "
                "(image layers through the free S3 gateway endpoint)",
            )
        ]
    if usage.network_mode == "public":
        return [
            CostLine(
                "VPC: public IPv4",
                task_hours * vpc["public_ipv4_hour"],
                f"one public address per running task, {task_hours:,.1f} task-hours; no NAT",
            )
        ]
    if usage.network_mode == "endpoints":
        link, tgw = prices["privatelink"], prices["transit_gateway"]
        endpoint_hours = usage.interface_endpoints * usage.az_count * HOURS_PER_MONTH
        # Image layers come from S3 through the free gateway endpoint; the rest crosses the transit gateway.
        return [
            CostLine(
                "VPC: interface endpoints",
                endpoint_hours * link["interface_endpoint_az_hour"] + data_gb * link["interface_endpoint_gb"],
                f"{usage.interface_endpoints} endpoints in {usage.az_count} AZs, S3 gateway endpoint free",
            ),
            CostLine(
                "VPC: transit gateway attachment",
                HOURS_PER_MONTH * tgw["attachment_hour"] + data_gb * tgw["gb"],
                f"1 attachment, up to {data_gb:,.0f} GB; your egress VPC's own NAT not included",
            ),
        ]
    return []


def usage_dict(usage: Usage) -> dict[str, Any]:
    return asdict(usage)


# -- The control plane per design (issue 25): what the schedule, the hooks and the lease cost a month ---------

# History events of an execution and their bytes (the workflow logs at level ALL, with execution data): (events,
# bytes) for the execution itself, each round, each pool's pass in a round (no launch), measured on the rendered
# workflow in moto's interpreter (tests/workflow/test_backoff.py::test_history_events_per_execution_are_the_cost_
# models; boto3's JSON of each event, about what CloudWatch Logs ingests). "tick": an execution the back-off's
# tick starts (`pools` given); "schedule": one the schedule starts (every pool). "seed": an assumption, the
# seed's three Lambda tasks in a row per observation, each logged like adoscale's pass (5 events of ~550 bytes).
EXECUTION_HISTORY: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    "tick": ((14, 3222), (15, 3633), (11, 6041)),
    "schedule": ((16, 3688), (15, 3535), (11, 6041)),
    "seed": ((2, 600), (0, 0), (15, 8250)),
}
LAMBDA_LOG_BYTES = 1500  # an assumption: START/END/REPORT and adoscale's lines (with a pass's EMF metrics)


@dataclass(frozen=True, slots=True)
class Design:
    """How a control plane runs: its schedule and what each observation invokes, and what it watches with."""

    name: str
    description: str
    lambdas_per_pass: int  # the seed: queue data, decide, act; adoscale: the pass
    lambdas_per_round: int  # adoscale: the round action (the parallel-job limit)
    tick: bool  # the back-off: the schedule invokes the tick each minute, which starts an execution if due
    hooks: bool
    lease: bool  # a DynamoDB lease around each pass
    metrics_per_pool: int  # custom CloudWatch metrics each pool publishes
    # PutMetricData requests per observation of a pool: the seed's Lambda calls the API (its estimate counts
    # 43,200 requests a month for 21,600 executions: two an observation). adoscale publishes through EMF, log
    # lines CloudWatch turns into metrics: no request; the bytes are in the Logs line, and the metrics extracted
    # are billed as custom metrics (https://aws.amazon.com/cloudwatch/pricing/, "Embedded Metric Format").
    put_metric_data_per_pass: int = 0
    # Alarm metrics (CloudWatch bills "per alarm metric": a metric-math alarm once per metric it reads) the
    # deployment creates: per pool, and once (the workflow's), and dashboards.
    alarm_metrics_per_pool: int = 0
    alarm_metrics_fixed: int = 0
    dashboards: int = 0


# What the control-plane module creates to watch (deploy/terraform/modules/control-plane; checked against its
# source by tests/sim/test_control_plane_cost.py): per pool, the alarms on the metrics each set publishes
# (observability.tf's alarm_metrics: job-waiting reads 4, launch failures 1, pass errors 1); the workflow's
# three alarms on AWS/States (workflow.tf); the dashboard (create_dashboard, default true).
POOL_ALARM_METRICS: dict[MetricSet, int] = {"full": 6, "essential": 1}
WORKFLOW_ALARM_METRICS = 3


def _adoscale(metric_set: MetricSet, *, dashboard: bool) -> dict[str, int]:
    """A deployment's watch as the module creates it with `metrics = metric_set`."""
    return {
        "metrics_per_pool": len(PUBLISHED[metric_set]),
        "alarm_metrics_per_pool": POOL_ALARM_METRICS[metric_set],
        "alarm_metrics_fixed": WORKFLOW_ALARM_METRICS,
        "dashboards": int(dashboard),
    }


_BACKOFF = "hooks; the schedule backs off (a tick a minute; a round a minute while a task starts, else every 10 min)"
DESIGNS: dict[str, Design] = {
    d.name: d
    for d in (
        Design(
            "seed",
            "the seed: a 2-minute schedule, 3 Lambdas an observation, 2 metrics by PutMetricData",
            3,
            0,
            False,
            False,
            False,
            2,
            put_metric_data_per_pass=2,
        ),
        Design(
            "adoscale",
            "no hooks: an execution a minute, 4 rounds; metrics full, alarms, dashboard",
            1,
            1,
            False,
            False,
            True,
            **_adoscale("full", dashboard=True),
        ),
        Design(
            "adoscale-backoff",
            f"{_BACKOFF}; metrics full, alarms, dashboard",
            1,
            1,
            True,
            True,
            True,
            **_adoscale("full", dashboard=True),
        ),
        Design(
            "adoscale-backoff-essential",
            "the same with metrics = essential (2 a pool, the pass-errors and workflow alarms) and no dashboard",
            1,
            1,
            True,
            True,
            True,
            **_adoscale("essential", dashboard=False),
        ),
    )
}
# The simulator's policy that runs each design (the metrics change nothing the simulator sees).
DESIGN_POLICY = {
    "seed": "seed",
    "adoscale": "adoscale",
    "adoscale-backoff": "adoscale-backoff",
    "adoscale-backoff-essential": "adoscale-backoff",
}


@dataclass(frozen=True, slots=True)
class ControlDay:
    """One day of a design's control plane, counted by the simulator (`from_result`)."""

    design: str
    executions: float
    observing_executions: float
    rounds: float  # observations of the pool (passes run by the schedule)
    last_offset_s: float  # the latest round's offset in an observing execution
    hook_passes: float
    launches: float
    ado_calls: float
    aws_calls: float
    pools: int = 1


def control_day(design: Design, result: Any, interval_s: float, last_offset_s: float) -> ControlDay:
    """`result` (a `PolicyResult` whose schedule ran over whole days) scaled to one day."""
    days = max(result.executions * interval_s / 86400, 1e-9)
    return ControlDay(
        design.name,
        result.executions / days,
        result.observing_executions / days,
        result.ticks / days,
        last_offset_s,
        result.hook_passes / days,
        result.launched / days,
        result.ado_calls / days,
        result.aws_calls / days,
    )


def control_costs(
    design: Design, day: ControlDay, prices: dict[str, Any], *, lambda_ms: float = 300.0
) -> list[CostLine]:
    """The control plane's monthly cost, by service, for `day` repeated over a month: Step Functions Express
    (requests and duration), Lambda (requests and duration, arm64 at 128 MB), EventBridge Scheduler, API
    Gateway (hook deliveries), DynamoDB on demand (the lease, the hooks' coalescing), CloudWatch (the logs the
    workflow and the functions write, and the custom metrics). Free tiers ignored."""
    month = DAYS_PER_MONTH
    sfn, lam, cw = prices["step_functions_express"], prices["lambda"], prices["cloudwatch"]
    # With the tick, the schedule's invocations are the ticks and only observing minutes start an execution.
    schedule_calls = day.executions
    executions = day.observing_executions if design.tick else day.executions
    # Express bills duration in 100 ms steps at 64 MB at least: every execution rounded up by half a step.
    seconds = executions * (day.last_offset_s + ROUND_SECONDS + 0.05)
    workflow = month * (executions * sfn["request"] + seconds * 0.064 * sfn["gb_second"])
    passes = day.rounds * day.pools
    hooks = day.hook_passes if design.hooks else 0.0
    invocations = (
        (day.executions if design.tick else 0.0)
        + day.rounds * design.lambdas_per_round
        + passes * design.lambdas_per_pass
        + day.launches * design.lambdas_per_round * TASK_CHECKS  # the waiter (adoscale), an upper bound
        + 2 * hooks  # the delivery, then the queued pass
    )
    lambda_cost = month * invocations * (lam["request"] + lambda_ms / 1000 * 0.128 * lam["gb_second_arm64"])
    scheduler = month * schedule_calls * prices["eventbridge_scheduler"]["invocation"]
    api = month * hooks * prices["api_gateway_http"]["request"]
    ddb = prices["dynamodb_on_demand"]
    # Lease acquire and release; hook#pool; the pool's record (history#pool) when a pass counted a job or an
    # agent for the wait and start-up metrics: at most two a launch (its job assigned, its agent online).
    writes = (2 * (passes + hooks) + 2 * day.launches if design.lease else 0.0) + hooks
    # The hook's lease read, the queued pass's; the pool's record, read by every pass.
    reads = 2 * hooks + (passes + hooks if design.lease else 0.0)
    dynamodb = month * (writes * ddb["write_request"] + reads * ddb["read_request"])
    kind = "seed" if not design.lambdas_per_round else ("tick" if design.tick else "schedule")
    base, per_round, per_pass = EXECUTION_HISTORY[kind]
    log_bytes = executions * base[1] + day.rounds * per_round[1] + passes * per_pass[1] + invocations * LAMBDA_LOG_BYTES
    log_gb = month * log_bytes / 1e9
    metrics = design.metrics_per_pool * day.pools
    put_requests = passes * design.put_metric_data_per_pass
    alarm_metrics = design.alarm_metrics_per_pool * day.pools + design.alarm_metrics_fixed
    return [
        CostLine(
            "Step Functions (Express)",
            workflow,
            f"{executions * month:,.0f} executions, {seconds * month / 3600:,.1f} hours",
        ),
        CostLine("AWS Lambda", lambda_cost, f"{invocations * month:,.0f} invocations of {lambda_ms:.0f} ms"),
        CostLine("EventBridge Scheduler", scheduler, f"{schedule_calls * month:,.0f} invocations"),
        CostLine("API Gateway (hooks)", api, f"{hooks * month:,.0f} requests"),
        CostLine("DynamoDB", dynamodb, f"{writes * month:,.0f} writes, {reads * month:,.0f} reads"),
        CostLine("CloudWatch Logs", log_gb * cw["log_gb_ingested"], f"{log_gb:.2f} GB ingested"),
        CostLine(
            "CloudWatch metrics",
            metrics * cw["metric_month"] + month * put_requests * cw["api_request"],
            f"{metrics} custom metrics"
            + (f", {put_requests * month:,.0f} PutMetricData requests" if put_requests else " (EMF: no request)"),
        ),
        CostLine("CloudWatch alarms", alarm_metrics * cw["alarm_metric_month"], f"{alarm_metrics} alarm metrics"),
        CostLine("CloudWatch dashboard", design.dashboards * cw["dashboard_month"], f"{design.dashboards} dashboard"),
    ]


# The lines the schedule's design drives; the metrics, alarms and dashboard are what the deployment chooses to
# watch with (`metrics`, `create_dashboard`), shown apart and counted in the total.
SCHEDULE_DRIVEN = frozenset(
    {
        "Step Functions (Express)",
        "AWS Lambda",
        "EventBridge Scheduler",
        "API Gateway (hooks)",
        "DynamoDB",
        "CloudWatch Logs",
    }
)
