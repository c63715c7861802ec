"""EC2 pools in the simulator: a start-up model from published figures and the cost of one instance per job.

The simulated compute is the same as Fargate's (`SimFargate`: the `Compute` port, an agent per task that
takes one job and exits); an EC2 pool differs in how long an instance takes to get its agent online and in
what it costs. Both come from the figures below, each with where it comes from.

Start-up of a baked Linux image (the agent pre-extracted, Docker installed; docs/ec2.md), launch to agent
online, about 45-70 s:

- API call to `running`: 16-23 s. Measured cold launches of m6i/m7i/c7i/t3 instances with Amazon Linux:
  "Pending→Running is 16.4-16.6s regardless of instance family", 25.8 s on average from the API call to
  SSH (github.com/brevdev/ec2-coldboot-research, `@fix_plan.md`); encrypted EBS root volumes launch more
  slowly, and Amazon Linux 2023 boots fastest (martysweet.co.uk/ec2-launch-times, October 2023). The upper
  end allows for the encrypted root volume the `ec2-pool` module uses.
- `running` to the user data running: 3-9 s ("Boot→SSH went from 3.2s to 9.0s without cloud-init", the
  same research; cloud-init runs the user data).
- The user data to the agent online: 25-40 s. An assumption, not a published figure: reading the PAT
  (one AWS call), `config.sh` registering (a few HTTPS calls to Azure DevOps and the .NET runtime's
  start, twice: configure, then the listener) from an agent already extracted in the image; the Fargate
  model's own 10-20 s for the agent to connect is the listener alone.

Windows Server is not modelled: "often take 15 minutes or longer" without EC2 Fast Launch (EC2 User
Guide, "Configure your Windows AMI for faster launching"); docs/ec2.md says what to expect.

Cost: per-second billing with a one-minute minimum for Linux instances and EBS volumes ("Per-second
billing", aws.amazon.com/ec2/pricing/on-demand/), so an instance that lives for its job costs its lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass

from adoscale_lab.sim.fargate import FargateProfile, ImageModel
from adoscale_lab.sim.policies import SimPolicy
from adoscale_lab.sim.workloads import JobSpec

SECONDS_PER_MONTH = 30.42 * 86400  # the month of sim/cost.py
BILLING_MINIMUM_S = 60.0


@dataclass(frozen=True, slots=True)
class Ec2StartModel:
    """Seconds from CreateFleet to the agent online, in three stages (sources in the module's docstring)."""

    to_running_s: tuple[float, float] = (16.0, 23.0)
    boot_to_user_data_s: tuple[float, float] = (3.0, 9.0)
    user_data_to_agent_s: tuple[float, float] = (25.0, 40.0)

    def total_s(self) -> tuple[float, float]:
        stages = (self.to_running_s, self.boot_to_user_data_s, self.user_data_to_agent_s)
        return sum(low for low, _ in stages), sum(high for _, high in stages)

    def profile(self, *, capacity_error_rate: float = 0.0, spot_interruption_per_hour: float = 0.0) -> FargateProfile:
        """The simulated compute's profile for an EC2 pool: `running` after the first stage, the agent online
        after the other two. No image pull: the image is baked, its size plays no part (`ImageModel()` is the
        reference, a zero change)."""
        boot, agent = self.boot_to_user_data_s, self.user_data_to_agent_s
        return FargateProfile(
            to_running_s=self.to_running_s,
            agent_connect_s=(boot[0] + agent[0], boot[1] + agent[1]),
            capacity_error_rate=capacity_error_rate,
            spot_interruption_per_hour=spot_interruption_per_hour,
            image=ImageModel(),
        )


@dataclass(frozen=True, slots=True)
class Ec2Prices:
    """us-east-1 list prices, as of 2026-11 (re-check before relying on them)."""

    # m7i.large (2 vCPU, 8 GiB), Linux on demand: aws.amazon.com/ec2/pricing/on-demand/.
    instance_hour: float = 0.1008
    # Spot: varies with supply and by zone; a typical m7i.large figure (aws.amazon.com/ec2/spot/pricing/).
    spot_instance_hour: float = 0.04
    # gp3 storage per GB-month: aws.amazon.com/ebs/pricing/ (3,000 IOPS and 125 MB/s included).
    gp3_gb_month: float = 0.08
    root_volume_gb: float = 50.0  # the ec2-pool module's default


@dataclass(frozen=True, slots=True)
class FargateSize:
    """The Fargate task an EC2 pool's jobs would otherwise run in, for a like-for-like cost: 2 vCPU and 8 GB,
    the size of an m7i.large. Prices: sim/prices.json's `fargate` (per vCPU-hour and GB-hour, per second,
    one-minute minimum)."""

    vcpu: float = 2.0
    memory_gb: float = 8.0
    vcpu_hour: float = 0.04048
    gb_hour: float = 0.004445


def billed_seconds(lifetimes_s: list[float]) -> float:
    """Per-second billing with a one-minute minimum, for each instance (or task) lifetime."""
    return sum(max(BILLING_MINIMUM_S, seconds) for seconds in lifetimes_s)


def ec2_cost(billed_s: float, prices: Ec2Prices | None = None, *, spot: bool = False) -> float:
    """Instances and their root volumes for `billed_s` instance-seconds (launch to termination, each at
    least a minute: `billed_seconds`)."""
    prices = prices or Ec2Prices()
    hourly = prices.spot_instance_hour if spot else prices.instance_hour
    volume = prices.root_volume_gb * prices.gp3_gb_month / SECONDS_PER_MONTH
    return billed_s * (hourly / 3600 + volume)


def fargate_cost(billed_s: float, size: FargateSize | None = None) -> float:
    """Fargate tasks of `size` for `billed_s` task-seconds."""
    size = size or FargateSize()
    return billed_s * (size.vcpu * size.vcpu_hour + size.memory_gb * size.gb_hour) / 3600


def compare(
    jobs: list[JobSpec],
    policy: SimPolicy,
    *,
    seed: int = 1,
    max_agents: int = 50,
    measure_from_s: float = 0.0,
    spot: bool = False,
    start: Ec2StartModel | None = None,
) -> list[dict[str, float | int | str]]:
    """The same trace under the same policy on Fargate (the simulator's published start-up) and on EC2
    (`start`): each one's waits and the compute cost of its agents (a 2 vCPU, 8 GB task or an m7i.large
    instance per job; on demand unless `spot`). The simulator bills every agent from launch to stop, at
    least a minute (`PolicyResult.agent_minutes`); EC2 bills from `running`, so its figure is an upper bound
    by about the first stage (16-23 s an instance)."""
    from adoscale_lab.sim.runner import simulate

    rows: list[dict[str, float | int | str]] = []
    for compute, profile in (("fargate", FargateProfile()), ("ec2", (start or Ec2StartModel()).profile())):
        result = simulate(
            jobs, policy, seed=seed, max_agents=max_agents, profile=profile, measure_from_s=measure_from_s
        )
        billed = result.agent_minutes * 60
        cost = ec2_cost(billed, spot=spot) if compute == "ec2" else fargate_cost(billed)
        rows.append(
            {
                "compute": compute,
                "policy": result.policy,
                "jobs": result.jobs,
                "wait_p50_s": round(result.percentile(0.5), 1),
                "wait_p95_s": round(result.percentile(0.95), 1),
                "wait_max_s": round(max(result.waits_s, default=0.0), 1),
                "stranded": result.stranded,
                "launched": result.launched,
                "agent_minutes": round(result.agent_minutes, 1),
                "cost_usd": round(cost, 2),
                "cost_usd_per_job": round(cost / result.jobs, 4) if result.jobs else 0.0,
            }
        )
    return rows
