"""The Lambda path's ADO calls: the workflow's `round` and `pass` actions of `adoscale.handlers.pass_.handler`,
invoked in-process as the state machine would (one `round`, then one `pass` per pool), against the ADO emulator
on loopback HTTP, and ECS and the lease table in moto. The configuration reaches the handler as the
`ADOSCALE_CONFIG` variable and the PAT as `AZP_TOKEN`, as documented for the functions.

Prints figures; asserts nothing about time. The goal (issue 10) is 2 ADO calls per pool per steady pass, as on
the CLI path (`benchmarks.reconcile_pass`): list the pool's job requests and its agents. The organization's
parallel-job limit is read once per round, shared by every pool.

    .venv/bin/python -m benchmarks.lambda_pass [--pools 20] [--queued 20] [--max-agents 5] [--rounds 4] [--json]
        [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from pydantic import BaseModel, ConfigDict

from benchmarks.common import PAT, bench_config, seeded_model
from benchmarks.results import BenchResult, RunInfo, add_output_options, ado_calls, aws_calls, emit, render_calls

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@dataclass(frozen=True, slots=True)
class _Context:
    """What the handler reads of a Lambda context."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _context(request_id: str) -> LambdaContext:
    # The handler reads only these two members; powertools' LambdaContext is the type it is declared with.
    return cast("LambdaContext", _Context(request_id))


class LambdaRound(BaseModel):
    """One round: the `round` action, then one `pass` action per pool."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int
    round_ado_calls: int  # the `round` action's (the organization's parallel-job limit)
    pass_ado_calls: int  # every pool's `pass` action together
    ado_calls_by_route: dict[str, int]  # the round's (its action and its passes), `METHOD route template` -> count
    launched: int
    errors: int
    aws_calls: dict[str, int]  # `service:Operation` -> count, the round's passes together


class LambdaPassResult(BenchResult):
    benchmark: Literal["lambda_pass"] = "lambda_pass"
    pools: int
    queued_per_pool: int
    max_agents: int
    rounds: list[LambdaRound]
    wall_s: float  # all rounds, this process: handler, moto and emulator together

    @property
    def steady(self) -> list[LambdaRound]:
        """The rounds after the first (every pool's id then known to the warm function), or the only one."""
        return self.rounds[1:] or self.rounds

    @property
    def steady_ado_calls_per_pool_pass(self) -> float:
        return sum(r.pass_ado_calls for r in self.steady) / (len(self.steady) * self.pools)

    def render(self) -> str:
        lines = [
            f"Lambda path: pools {self.pools}, queued per pool {self.queued_per_pool}, max_agents {self.max_agents}, "
            f"{len(self.rounds)} rounds (one warm function: module caches kept between invocations)"
        ]
        for r in self.rounds:
            lines.append(
                f"round {r.number}: ADO calls: round action {r.round_ado_calls}, passes {r.pass_ado_calls} "
                f"({r.pass_ado_calls / self.pools:.2f} per pool; "
                f"{(r.round_ado_calls + r.pass_ado_calls) / self.pools:.2f} with the round's share); "
                f"launched {r.launched}; errors {r.errors}"
            )
            lines.append(
                f"  AWS calls per pool: {sum(r.aws_calls.values()) / self.pools:.2f} ({render_calls(r.aws_calls)})"
            )
        lines.append(
            f"ADO calls per pool per steady pass (rounds 1..{len(self.rounds) - 1}): "
            f"{self.steady_ado_calls_per_pool_pass:.2f} (goal: 2)"
        )
        lines.append(f"wall for all rounds: {self.wall_s:.2f} s (this process: handler, moto and emulator together)")
        return "\n".join(lines)


def run(args: argparse.Namespace, argv: list[str]) -> LambdaPassResult:
    import boto3
    from moto import mock_aws

    from adoscale.aws import CallCounter
    from adoscale.workflow import round_offsets
    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.emulator import make_app, serve
    from adoscale_lab.moto_rules.ecs import hold_tasks_running

    model, names = seeded_model(args.pools, args.queued)
    rounds: list[LambdaRound] = []
    quiet = io.StringIO()  # the handler's JSON log lines and EMF metrics: one per pass, not figures
    with serve(make_app(model)) as server, mock_aws():
        os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1")
        hold_tasks_running()
        ecs = boto3.client("ecs", region_name="us-east-1")
        world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="adoscale-leases",
            KeySchema=[{"AttributeName": "pool", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pool", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        body = bench_config(world, f"{server.url}/bench", names, args.max_agents, lease_table="adoscale-leases")
        os.environ.update(ADOSCALE_CONFIG=json.dumps(body), AZP_TOKEN=PAT)
        with contextlib.redirect_stdout(quiet):
            from adoscale.handlers import pass_
            from adoscale.handlers._runtime import client

            counter = CallCounter()
            counter.attach(client("ecs"))
            counter.attach(client("dynamodb"))
            started = time.perf_counter()
            offsets = round_offsets(args.rounds, 0)  # the schedule's rounds, here one after the other
            for number in range(args.rounds):
                model.stats.reset()
                counter.reset()
                answer = pass_.handler({"action": "round", "offset": offsets[number]}, _context(f"round-{number}"))
                round_calls = model.stats.total
                launched = errors = 0
                for item in answer["pools"]:
                    out = pass_.handler(
                        {"action": "pass", "pool": item["pool"], "parallel": answer["parallel"]},
                        _context(f"pass-{number}-{item['pool']}"),
                    )
                    launched += len(out["launched"])
                    errors += len(out["report"]["errors"])
                rounds.append(
                    LambdaRound(
                        number=number,
                        round_ado_calls=round_calls,
                        pass_ado_calls=model.stats.total - round_calls,
                        ado_calls_by_route=ado_calls(model.stats.by_route),
                        launched=launched,
                        errors=errors,
                        aws_calls=aws_calls(counter.by_operation),
                    )
                )
            wall = time.perf_counter() - started
    return LambdaPassResult(
        run=RunInfo.here("lambda_pass", argv),
        pools=args.pools,
        queued_per_pool=args.queued,
        max_agents=args.max_agents,
        rounds=rounds,
        wall_s=wall,
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=int, default=20)
    parser.add_argument("--queued", type=int, default=20)
    parser.add_argument("--max-agents", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=4)
    add_output_options(parser)
    args = parser.parse_args(argv)
    emit(run(args, argv), args)


if __name__ == "__main__":
    main()
