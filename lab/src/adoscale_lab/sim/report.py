"""The simulator's report: cost per month, a table, plots (PNG) and a Markdown file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from adoscale_lab.sim.cost import (
    DAYS_PER_MONTH,
    DESIGN_POLICY,
    DESIGNS,
    SCHEDULE_DRIVEN,
    Usage,
    control_costs,
    control_day,
    deployed_workflow,
    monthly_costs,
)
from adoscale_lab.sim.policies import POLICIES
from adoscale_lab.sim.runner import TASK_GB, TASK_VCPU, PolicyResult
from adoscale_lab.sim.workloads import JobSpec


def cost_per_month(result: PolicyResult, prices: dict[str, Any]) -> float:
    """Fargate for the simulated agent-minutes, scaled to a month, plus the control plane at the policy's
    cadence (adoscale: the deployed workflow, `adoscale_lab.sim.cost.deployed_workflow`)."""
    days = max(result.sim_seconds / 86400, 1.0)
    policy = POLICIES.get(result.policy)
    usage = replace(
        Usage(),
        agent_minutes_per_day=result.agent_minutes / days,
        vcpu=TASK_VCPU,
        memory_gb=TASK_GB,
        lambda_arch="arm64",
    )
    if result.policy == "adoscale-backoff":
        # The tick's design: its control plane from what the run counted, the rest (agents, network) as usual.
        control = control_per_month(result, prices) or 0.0
        replaced = ("Step Functions (Express)", "AWS Lambda")
        return control + sum(line.monthly_usd for line in monthly_costs(usage, prices) if line.service not in replaced)
    if result.policy.startswith("adoscale"):
        # Every launch counted as its own round's: each pays the waiter's checks (an upper bound).
        usage = replace(deployed_workflow(usage), launches_per_day=result.launched / days)
    elif policy is not None:  # the seed's design at the policy's cadence: a run per poll
        usage = replace(usage, workflow_interval_s=policy.schedule.interval_s, observations_per_execution=1)
    return sum(line.monthly_usd for line in monthly_costs(usage, prices))


# The control-plane design each policy runs (`adoscale_lab.sim.cost.DESIGNS`): the pollers as the seed's (at their
# own cadence), the workflow's policies as adoscale's, with hooks as the back-off's only when it is deployed so.
POLICY_DESIGN = {
    "seed": "seed",
    "naive-fast": "seed",
    "keda-scaledjob": "seed",
    "adoscale": "adoscale",
    "adoscale-standby": "adoscale",
    "adoscale-hooks": "adoscale",
    "adoscale-predictive": "adoscale",
    "adoscale-backoff": "adoscale-backoff",
}


def control_per_month(result: PolicyResult, prices: dict[str, Any]) -> float | None:
    """The control plane's monthly cost (`control_costs`, the lines the schedule drives) at the rate of the
    run's observed hours (a run observes from shortly before its first job: `adoscale cost --designs` runs
    whole days, quiet hours included). None for a policy without a design."""
    name = POLICY_DESIGN.get(result.policy)
    policy = POLICIES.get(result.policy)
    if name is None or policy is None or not result.executions:
        return None
    design = DESIGNS[name]
    if result.hook_passes and not design.hooks:
        design = replace(design, hooks=True)  # adoscale-hooks: the workflow as without hooks, plus the hooks
    day = control_day(design, result, policy.schedule.interval_s, max(policy.schedule.offsets))
    return sum(line.monthly_usd for line in control_costs(design, day, prices) if line.service in SCHEDULE_DRIVEN)


def summaries(results: list[PolicyResult], prices: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        row: dict[str, Any] = dict(result.summary())
        row["cost_usd_month"] = round(cost_per_month(result, prices), 2)
        control = control_per_month(result, prices)
        row["control_usd_month"] = round(control, 3) if control is not None else "-"
        rows.append(row)
    return rows


def write_plots(results: list[PolicyResult], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    fig, axes = plt.subplots(len(results), 1, figsize=(10, 2.2 * len(results)), sharex=True, squeeze=False)
    for ax, result in zip(axes[:, 0], results, strict=True):
        hours = [t[0] for t in result.timeline]
        ax.step(hours, [t[1] for t in result.timeline], where="post", label="queued jobs")
        ax.step(hours, [t[2] for t in result.timeline], where="post", label="live tasks")
        ax.step(hours, [t[3] for t in result.timeline], where="post", label="running jobs", alpha=0.7)
        ax.set_ylabel(result.policy)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper right", fontsize="small")
    axes[-1, 0].set_xlabel("hours since the start of day 0")
    fig.suptitle("Queue and agents over time")
    fig.tight_layout()
    path = out / "timeline.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    fig, ax = plt.subplots(figsize=(8, 5))
    for result in results:
        waits = sorted(result.waits_s)
        if waits:
            ax.step(waits, [(i + 1) / len(waits) for i in range(len(waits))], where="post", label=result.policy)
    ax.set_xlabel("wait from queued to an agent taking the job (s)")
    ax.set_ylabel("share of jobs")
    ax.set_title("Wait-time CDF")
    ax.grid(alpha=0.3)
    ax.legend()
    path = out / "wait_cdf.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths


COLUMNS = (
    ("policy", "policy"),
    ("wait_p50_s", "wait p50 s"),
    ("wait_p95_s", "wait p95 s"),
    ("wait_max_s", "wait max s"),
    ("stranded", "stranded"),
    ("launched", "launched"),
    ("overlaunched", "over-launched"),
    ("agent_minutes", "agent-min"),
    ("idle_agent_minutes", "idle agent-min"),
    ("busy_killed", "busy killed"),
    ("leaked", "leaked"),
    ("ado_calls", "ADO calls"),
    ("aws_calls", "AWS calls"),
    ("cost_usd_month", "USD/month"),
    ("control_usd_month", "control USD/month"),
)


def markdown(rows: list[dict[str, Any]], title: str, notes: list[str]) -> str:
    lines = [f"# {title}", "", *notes, ""]
    lines.append("| " + " | ".join(label for _, label in COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    for row in rows:
        lines.append("| " + " | ".join(str(row[key]) for key, _ in COLUMNS) + " |")
    lines.append("")
    lines.append(
        f"Costs scale the simulated days to a month of {DAYS_PER_MONTH} days"
        " (prices: lab/src/adoscale_lab/sim/prices.json). The control plane's column is the lines the schedule's"
        " design drives (Step Functions, Lambda, Scheduler, API Gateway, DynamoDB, CloudWatch Logs) at the rate of"
        " the run's observed hours; `adoscale cost --designs` runs whole days."
    )
    return "\n".join(lines) + "\n"


def control_plane_rows(
    jobs: list[JobSpec],
    prices: dict[str, Any],
    *,
    seed: int = 1,
    compute: str = "fargate",
    designs: tuple[str, ...] = tuple(DESIGNS),
    measure_from_s: float = 0.0,
    hook_loss: float = 0.0,
) -> list[dict[str, Any]]:
    """Each design on the same trace, its schedule running over whole days (`observe_s`: the quiet hours
    cost too): waits, Azure DevOps calls a day, and the control plane's monthly cost by service
    (`control_costs`), with the total of the lines the schedule drives, of what the deployment watches with
    (metrics, alarms, dashboard) and of both."""
    from adoscale_lab.sim.ec2 import Ec2StartModel
    from adoscale_lab.sim.fargate import FargateProfile
    from adoscale_lab.sim.runner import simulate

    if compute not in ("fargate", "ec2"):
        raise ValueError(f"compute must be fargate or ec2, not {compute!r}")
    profile = Ec2StartModel().profile() if compute == "ec2" else FargateProfile()
    last = max((j.queued_at_s for j in jobs), default=0.0)
    whole_days = max(1, int(last // 86400) + 1)
    rows: list[dict[str, Any]] = []
    runs: dict[str, Any] = {}  # designs that differ only in what they watch with run the same simulation
    for name in designs:
        design = DESIGNS[name]
        policy = POLICIES[DESIGN_POLICY[name]]
        if DESIGN_POLICY[name] not in runs:
            runs[DESIGN_POLICY[name]] = simulate(
                jobs,
                policy,
                seed=seed,
                profile=profile,
                measure_from_s=measure_from_s,
                observe_s=(measure_from_s, whole_days * 86400.0),
                hook_loss=hook_loss,
            )
        result = runs[DESIGN_POLICY[name]]
        last_offset = max(policy.schedule.offsets)
        day = control_day(design, result, policy.schedule.interval_s, last_offset)
        lines = control_costs(design, day, prices)
        driven = sum(line.monthly_usd for line in lines if line.service in SCHEDULE_DRIVEN)
        rows.append(
            {
                "design": name,
                "compute": compute,
                "wait_p50_s": round(result.percentile(0.5), 1),
                "wait_p95_s": round(result.percentile(0.95), 1),
                "stranded": result.stranded,
                "executions_day": round(day.executions),
                "observing_day": round(day.observing_executions),
                "ado_calls_day": round(day.ado_calls),
                "lines": {line.service: round(line.monthly_usd, 4) for line in lines},
                "schedule_usd_month": round(driven, 3),
                "watch_usd_month": round(sum(line.monthly_usd for line in lines) - driven, 3),
                "total_usd_month": round(sum(line.monthly_usd for line in lines), 3),
            }
        )
    return rows
