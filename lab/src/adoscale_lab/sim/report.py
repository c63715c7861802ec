"""The simulator's report: cost per month, a table, plots (PNG) and a Markdown file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from adoscale_lab.sim.cost import DAYS_PER_MONTH, Usage, deployed_workflow, monthly_costs
from adoscale_lab.sim.policies import POLICIES
from adoscale_lab.sim.runner import TASK_GB, TASK_VCPU, PolicyResult


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
    if result.policy.startswith("adoscale"):
        # Every launch counted as its own round's: each pays the waiter's checks (an upper bound).
        usage = replace(deployed_workflow(usage), launches_per_day=result.launched / days)
    elif policy is not None:  # the seed's design at the policy's cadence: a run per poll
        usage = replace(usage, workflow_interval_s=policy.schedule.interval_s, observations_per_execution=1)
    return sum(line.monthly_usd for line in monthly_costs(usage, prices))


def summaries(results: list[PolicyResult], prices: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        row: dict[str, Any] = dict(result.summary())
        row["cost_usd_month"] = round(cost_per_month(result, prices), 2)
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
        " (prices: lab/src/adoscale_lab/sim/prices.json)."
    )
    return "\n".join(lines) + "\n"
