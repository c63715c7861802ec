"""The Lambda path's ADO calls: the workflow's `round` and `pass` actions of `adoscale.handlers.pass_.handler`,
invoked in-process as the state machine would (one `round`, then one `pass` per pool), against the ADO emulator
on loopback HTTP, and ECS and the lease table in moto. The configuration reaches the handler as the
`ADOSCALE_CONFIG` variable and the PAT as `AZP_TOKEN`, as documented for the functions.

Prints figures; asserts nothing about time. The goal (issue 10) is 2 ADO calls per pool per steady pass, as on
the CLI path (`benchmarks.reconcile_pass`): list the pool's job requests and its agents. The organization's
parallel-job limit is read once per round, shared by every pool.

    .venv/bin/python -m benchmarks.lambda_pass [--pools 20] [--queued 20] [--max-agents 5] [--rounds 4]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
from dataclasses import dataclass

from benchmarks.common import PAT, bench_config, seeded_model


@dataclass(frozen=True, slots=True)
class _Context:
    """What the handler reads of a Lambda context."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pools", type=int, default=20)
    parser.add_argument("--queued", type=int, default=20)
    parser.add_argument("--max-agents", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    import boto3
    from moto import mock_aws

    from adoscale.aws import CallCounter
    from adoscale.workflow import round_offsets
    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.emulator import make_app, serve
    from adoscale_lab.moto_rules.ecs import hold_tasks_running

    model, names = seeded_model(args.pools, args.queued)
    rows: list[tuple[int, int, int, int, int]] = []  # round, round-action calls, pass calls, launched, errors
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
            aws_per_round: list[dict[tuple[str, str], int]] = []
            for number in range(args.rounds):
                model.stats.reset()
                counter.reset()
                answer = pass_.handler({"action": "round", "offset": offsets[number]}, _Context(f"round-{number}"))
                round_calls = model.stats.total
                launched = errors = 0
                for item in answer["pools"]:
                    out = pass_.handler(
                        {"action": "pass", "pool": item["pool"], "parallel": answer["parallel"]},
                        _Context(f"pass-{number}-{item['pool']}"),
                    )
                    launched += len(out["launched"])
                    errors += len(out["report"]["errors"])
                rows.append((number, round_calls, model.stats.total - round_calls, launched, errors))
                aws_per_round.append(dict(counter.by_operation))
            wall = time.perf_counter() - started
    print(f"Lambda path: pools {args.pools}, queued per pool {args.queued}, max_agents {args.max_agents}, ", end="")
    print(f"{args.rounds} rounds (one warm function: module caches kept between invocations)")
    for (number, round_calls, pass_calls, launched, errors), aws in zip(rows, aws_per_round, strict=True):
        print(
            f"round {number}: ADO calls: round action {round_calls}, passes {pass_calls} "
            f"({pass_calls / args.pools:.2f} per pool; {(round_calls + pass_calls) / args.pools:.2f} with the "
            f"round's share); launched {launched}; errors {errors}"
        )
        print(f"  AWS calls per pool: {sum(aws.values()) / args.pools:.2f} ({aws})")
    steady = rows[1:] or rows
    per_pool = sum(r[2] for r in steady) / (len(steady) * args.pools)
    print(f"ADO calls per pool per steady pass (rounds 1..{args.rounds - 1}): {per_pool:.2f} (goal: 2)")
    print(f"wall for all rounds: {wall:.2f} s (this process: handler, moto and emulator together)")


if __name__ == "__main__":
    main()
