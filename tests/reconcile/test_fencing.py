"""The fencing check (issue 22 item 2): a pass renews its lease before each action and stops acting the
moment it finds the pool taken over; the actions before stay done, the report says why it stopped."""

from __future__ import annotations

from adoscale.control import LeaseLostError, Reconciler
from adoscale.lease import MemoryLease
from tests.clock import Clock
from tests.reconcile.test_lease_interrupted import CONFIG, NOW, FakeAdo, FakeCompute, World


class TakenOverAtLaunch(FakeCompute):
    """Another controller takes the pool over while this pass's launch is on its way."""

    def __init__(self, world: World, lease: MemoryLease, clock: Clock) -> None:
        super().__init__(world)
        self.lease, self.clock = lease, clock

    def launch(self, pool: str, count: int, token: str):  # type: ignore[no-untyped-def]
        result = super().launch(pool, count, token)
        self.clock.advance(120)  # this launch outlived the 60 s lease ...
        assert self.lease.acquire(pool, "another-controller", 60) is None  # ... and another pass took it over
        return result


def test_a_pass_that_lost_its_lease_stops_acting_and_says_so() -> None:
    world, clock = World("launch"), Clock(NOW)
    lease = MemoryLease(clock)
    report = Reconciler(CONFIG, FakeAdo(world), TakenOverAtLaunch(world, lease, clock), clock, lease=lease).run_pool(
        CONFIG.pools[0]
    )
    # The plan also stopped a stalled task and deleted a dead registration: neither happened.
    assert world.actions == ["launch 2"]
    assert isinstance(report.failure, LeaseLostError)
    assert report.errors == [
        "LeaseLostError: lease lost before: stop arn:aws:ecs:us-east-1:123456789012:task/agents/stalled"
        " (another pass holds the pool)"
    ]
    assert lease.holder("linux") == "another-controller"  # and it was not given back on the way out
