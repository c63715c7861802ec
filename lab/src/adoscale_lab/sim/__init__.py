"""A discrete-event simulator that drives the real reconcile and decision code in virtual time."""

from adoscale_lab.sim.fargate import EventQueue, FargateProfile, ImageModel, SimFargate
from adoscale_lab.sim.policies import POLICIES, SimPolicy
from adoscale_lab.sim.runner import PolicyResult, simulate
from adoscale_lab.sim.workloads import JobSpec, burst, bursty, from_csv, quiet, seed_day

__all__ = [
    "POLICIES",
    "EventQueue",
    "FargateProfile",
    "ImageModel",
    "JobSpec",
    "PolicyResult",
    "SimFargate",
    "SimPolicy",
    "burst",
    "bursty",
    "from_csv",
    "quiet",
    "seed_day",
    "simulate",
]
