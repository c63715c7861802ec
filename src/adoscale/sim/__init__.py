"""A discrete-event simulator that drives the real reconcile and decision code in virtual time."""

from adoscale.sim.fargate import EventQueue, FargateProfile, SimFargate
from adoscale.sim.policies import POLICIES, SimPolicy
from adoscale.sim.runner import PolicyResult, simulate
from adoscale.sim.workloads import JobSpec, burst, from_csv, seed_day

__all__ = [
    "POLICIES",
    "EventQueue",
    "FargateProfile",
    "JobSpec",
    "PolicyResult",
    "SimFargate",
    "SimPolicy",
    "burst",
    "from_csv",
    "seed_day",
    "simulate",
]
