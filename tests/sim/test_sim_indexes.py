"""The simulated Fargate keeps indexes (live tasks, each pool's listed tasks, their infos) so that a listing costs
the tasks it shows: whatever happens to the tasks, what it answers is what filtering every task of the day
answers, in the same order (ListTasks shows a stopped task for about an hour)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from adoscale.compute.base import TaskInfo
from adoscale.compute.identity import started_by_for
from adoscale_lab.emulator import AdoModel
from adoscale_lab.sim.fargate import EventQueue, FargateProfile, SimFargate, SimTask

START = datetime(2026, 11, 23, tzinfo=UTC)


def _naive_info(task: SimTask) -> TaskInfo:
    return TaskInfo(
        task_arn=task.arn,
        task_id=task.task_id,
        last_status=task.status,
        desired_status="STOPPED" if not task.live else "RUNNING",
        created_at=task.launched_at,
        started_by=started_by_for(task.pool),
        pool=task.pool,
        stopped_reason=task.stopped_reason,
        started_at=task.started_at,
        stop_code=task.stop_code,
        stopped_at=task.stopped_at,
    )


def _naive_listing(fargate: SimFargate, events: EventQueue, pool: str) -> list[TaskInfo]:
    horizon = events.now - timedelta(hours=1)
    return [
        _naive_info(t)
        for t in fargate.tasks.values()
        if t.pool == pool and (t.live or (t.stopped_at is not None and t.stopped_at > horizon))
    ]


def test_listings_and_live_tasks_are_what_filtering_every_task_gives() -> None:
    events = EventQueue(START)
    model = AdoModel(org="sim", pat="sim-pat-00000001", clock=events.clock)
    pools = {name: model.create_pool(name) for name in ("a", "b")}
    for name, pool_id in pools.items():
        model.register_agent(pool_id, f"{name}-placeholder", online=False)
    rng = random.Random(7)
    profile = FargateProfile(start_failure_rate=0.1, spot_interruption_per_hour=2.0)
    fargate = SimFargate(events, model, pools, job_seconds=lambda _: rng.uniform(60, 900), rng=rng, profile=profile)
    checked = stopped_and_gone = 0
    for step in range(600):
        roll = rng.random()
        pool = rng.choice(["a", "b"])
        if roll < 0.15:
            fargate.launch(pool, rng.randint(1, 4), token=f"t-{step}")
        elif roll < 0.25:
            model.queue_job(pools[pool])
            fargate.collect_assignments()
        elif roll < 0.35 and fargate.live_tasks():
            victim = rng.choice(fargate.live_tasks())
            fargate.stop(victim.pool, victim.arn, "scale-in")
        else:
            # On to the next event, or jump time (a quiet gap of up to 40 minutes).
            if events.next_time() is not None and rng.random() < 0.8:
                events.run_next()
            else:
                until = events.now + timedelta(minutes=rng.uniform(0, 40))
                events.at(until, lambda: None)
                while events.now < until:
                    events.run_next()
        for name in pools:
            listing = fargate.list_tasks(name)
            assert listing == _naive_listing(fargate, events, name)
            checked += len(listing)
        assert fargate.live_tasks() == [t for t in fargate.tasks.values() if t.live]
        stopped_and_gone = max(
            stopped_and_gone,
            sum(1 for t in fargate.tasks.values() if t.stopped_at and t.stopped_at <= events.now - timedelta(hours=1)),
        )
    # The walk did reach what the indexes must get right: many tasks listed, and stopped ones past the hour.
    assert checked > 1000 and stopped_and_gone > 10
    assert fargate.stats.start_failures and fargate.stats.spot_interrupted
