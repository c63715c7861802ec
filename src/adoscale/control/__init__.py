"""The controller: one pass over one pool as observe -> decide -> act, and `serve`'s loop.

- `observe.py`: the reads, frozen into an `Observation`;
- `decide.py`: the pure decision (`Decision`: the engine's plan, the warm pool, the history to keep);
- `act.py`: the plan carried out with the confirm-before-act protocols (`ActResult`);
- `pass_.py`: `Reconciler.run_pool` composing them under the pool's lease, and the `PoolReport`;
- `serve.py`: scheduled and hook-started passes, no CLI types.

`adoscale.bootstrap` wires a `Reconciler` for each runtime.
"""

from adoscale.control.act import ActResult, LeaseLostError, PassDeadlineError
from adoscale.control.decide import Decision, decide, describe, policy_for, warm_policy_for
from adoscale.control.observe import Observation, ParallelShare, agent_view, observe, task_view
from adoscale.control.pass_ import PassLimits, PassReport, PoolReport, Reconciler, new_pass_id, report_of
from adoscale.control.serve import ServeEnd, ServeOutcome, serve_loop

__all__ = [
    "ActResult",
    "Decision",
    "LeaseLostError",
    "Observation",
    "ParallelShare",
    "PassDeadlineError",
    "PassLimits",
    "PassReport",
    "PoolReport",
    "Reconciler",
    "ServeEnd",
    "ServeOutcome",
    "agent_view",
    "decide",
    "describe",
    "new_pass_id",
    "observe",
    "policy_for",
    "report_of",
    "serve_loop",
    "task_view",
    "warm_policy_for",
]
