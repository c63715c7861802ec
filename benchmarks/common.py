"""What the benchmarks share: for the pass benchmarks, an organization with N pools of queued jobs in the
emulator's model and the configuration that points those pools at an ECS world in moto; for the simulator's,
the `--seeds` they take."""

from __future__ import annotations

from typing import Any

from adoscale.ado.placeholder import PlaceholderSpec
from adoscale_lab.demo.aws import EcsWorld
from adoscale_lab.emulator import AdoModel

PAT = "benchmark-pat-000000"


def seed_range(text: str) -> list[int]:
    """`--seeds`: one seed (`7`) or a range, first to last (`1-20`)."""
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def seeded_model(pools: int, queued: int) -> tuple[AdoModel, list[str]]:
    """`pools` pools (each with its placeholder, capability docker) holding `queued` docker jobs each."""
    model = AdoModel(org="bench", pat=PAT)
    names = [f"pool-{i:03d}" for i in range(pools)]
    for name in names:
        pool_id = model.create_pool(name)
        register_placeholder(model, pool_id)
        for _ in range(queued):
            model.queue_job(pool_id, ["docker"])
    return model, names


def register_placeholder(model: AdoModel, pool_id: int) -> None:
    """The placeholder of a docker pool as adoscale registers it, so that a pass keeps it rather than
    registering it again (the state of any pool adoscale has served before)."""
    spec = PlaceholderSpec.for_pool(name="adoscale-placeholder", platform="linux/x64", capabilities={"docker": ""})
    model.register_agent(
        pool_id,
        spec.name,
        online=False,
        system=dict(spec.system_capabilities),
        user_capabilities=dict(spec.user_capabilities),
        version=spec.version,
    )


def bench_config(world: EcsWorld, org_url: str, names: list[str], max_agents: int, **top: Any) -> dict[str, Any]:
    """The configuration body for `names` (docker pools launching into `world`), plus top-level `top` keys."""
    ecs = {
        "cluster": world.cluster,
        "task_definition": world.task_definition,
        "subnets": list(world.subnets),
        "security_groups": list(world.security_groups),
    }
    pools = [{"name": n, "max_agents": max_agents, "capabilities": ["docker"], "ecs": ecs} for n in names]
    return {"organization_url": org_url, **top, "pools": pools}
