"""moto_server on 127.0.0.1 with what the Terraform AWS provider needs of moto
(`adoscale_lab.moto_rules.provider`, the one place for moto's behaviour patches), and with Lambda invocations
routed to adoscale's handlers in this process (moto's own invoke wants Docker).

    python scripts/moto_server.py --port 5055

A Lambda invocation runs the deployed function's handler with the function's own environment variables.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import threading
import time
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.server import ThreadedMotoServer

from adoscale_lab.moto_rules import Patches, provider

_lock = threading.Lock()  # handlers swap os.environ: one invocation at a time


class _Context:
    """What Lambda's Python runtime hands a handler (its `LambdaContext`), the remaining time counted from
    the function's configured timeout."""

    def __init__(self, name: str, timeout_s: float) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = name
        self.aws_request_id = "moto"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "moto"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _invoke(
    self: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> bytes:
    fn = self.get_function(function_name, qualifier)
    module_name, _, attribute = str(fn.handler).rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    event = json.loads(body) if body else {}
    with _lock:
        saved = dict(os.environ)
        os.environ.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
        try:
            result = handler(event, _Context(fn.function_name, float(fn.timeout or 3)))
        except Exception as exc:  # reported as Lambda reports a function error
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return json.dumps(result).encode()


def patch() -> None:
    patches = Patches()
    provider.install(patches)
    patches.setattr(LambdaBackend, "invoke", _invoke)
    patches.setattr(LambdaSimpleBackend, "invoke", _invoke)  # the backend used without Docker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{args.port}"  # the handlers' own AWS calls
    os.environ["MOTO_PORT"] = str(args.port)  # where moto's Step Functions interpreter calls Lambda
    patch()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    print(f"moto_server on http://127.0.0.1:{args.port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
