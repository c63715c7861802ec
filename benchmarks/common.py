"""What the pass benchmarks share: an organization with N pools of queued jobs in the emulator's model."""

from __future__ import annotations

from adoscale.emulator import AdoModel

PAT = "benchmark-pat-000000"


def seeded_model(pools: int, queued: int) -> tuple[AdoModel, list[str]]:
    """`pools` pools (each with its placeholder, capability docker) holding `queued` docker jobs each."""
    model = AdoModel(org="bench", pat=PAT)
    names = [f"pool-{i:03d}" for i in range(pools)]
    for name in names:
        pool_id = model.create_pool(name)
        model.register_agent(pool_id, "adoscale-placeholder", {"docker": ""}, online=False)
        for _ in range(queued):
            model.queue_job(pool_id, ["docker"])
    return model, names
