"""A stand-in for the AWS Lambda Python runtime that runs the handlers of the built zip, not the source tree.

What it does as Lambda does (Lambda developer guide, "Lambda runtime environment" and "Python handler"):
- Each function runs in its own execution environment: here a separate interpreter that sees only the
  extracted zip and the runtime's boto3 (`tests.lambda_package`), with the function's configured
  environment variables plus those the runtime sets (`AWS_REGION`, `AWS_LAMBDA_FUNCTION_NAME`, `_HANDLER`).
- The handler module is imported once, at init; an environment is reused for later invocations (warm), and
  a concurrent invocation gets another environment.
- A handler's exception is the invocation's error, `errorType` its class name (what Step Functions matches
  in `Retry`/`Catch`); an import failure is `Runtime.ImportModuleError`; an unserialisable result
  `Runtime.MarshalError`; an invocation past the function's timeout ends the environment (`Sandbox.Timedout`).
- What the handler prints goes to the log (here: this process's stderr), never into the response.

What it does not do: it runs on this machine's architecture and Python (the zip's dependencies are built
for it), enforces no memory limit, and gives AWS calls the local AWS emulator's endpoint
(`AWS_ENDPOINT_URL`), the one variable of the test rig in a function's environment.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto.awslambda.models import LambdaBackend

from tests.lambda_package import LambdaPackage, lambda_environment

# The runtime's loop, run in each execution environment. The response channel is a duplicate of the
# original stdout; the handler's own prints go to stderr, as the real runtime sends them to the log.
_BOOTSTRAP = r"""
import importlib, json, os, sys, time
channel = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
try:
    handler = getattr(importlib.import_module(module_name), function_name)
    init_error = None
except Exception as exc:
    handler = None
    init_error = {"errorType": "Runtime.ImportModuleError",
                  "errorMessage": f"Unable to import module '{module_name}': {exc}"}

class Context:
    def __init__(self, request):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = request["arn"]
        self.aws_request_id = request["request_id"]
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = "stand-in"
        self._deadline = time.monotonic() + request["timeout_s"]

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

for line in sys.stdin:
    request = json.loads(line)
    if init_error is not None:
        reply = {"error": init_error}
    else:
        try:
            result = handler(request["event"], Context(request))
            try:
                reply = {"result": json.loads(json.dumps(result))}
            except (TypeError, ValueError) as exc:
                reply = {"error": {"errorType": "Runtime.MarshalError", "errorMessage": str(exc)}}
        except Exception as exc:
            reply = {"error": {"errorType": type(exc).__name__, "errorMessage": str(exc)}}
    channel.write(json.dumps(reply) + "\n")
    channel.flush()
"""


class InvocationError(Exception):
    """The invocation failed as Lambda reports it: `errorType` and `errorMessage`."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class Function:
    name: str
    handler: str
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 30
    memory_mb: int = 256


class _Environment:
    """One execution environment: an interpreter that imported the handler once."""

    def __init__(self, package: LambdaPackage, function: Function, endpoint_url: str) -> None:
        env = lambda_environment(
            {
                **function.environment,
                "_HANDLER": function.handler,
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
                "AWS_ENDPOINT_URL": endpoint_url,
            }
        )
        prelude = f"import sys; sys.path[:0] = {package.pythonpath!r}\n"
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", prelude + _BOOTSTRAP],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip

    def invoke(self, event: Any, function: Function) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function.name}"
        request = {"event": event, "arn": arn, "request_id": str(uuid.uuid4()), "timeout_s": function.timeout_s}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(function.timeout_s + 5)  # the init and the invocation's own bound, as Lambda gives both
        if not line or not line[0]:
            self.close()
            raise InvocationError("Sandbox.Timedout", f"{function.name} did not answer within {function.timeout_s} s")
        reply = json.loads(line[0])
        if "error" in reply:
            raise InvocationError(reply["error"]["errorType"], reply["error"]["errorMessage"])
        return reply["result"]

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def _key(function: Function) -> str:
    """Environments serve one configuration: a changed handler or variable means new environments."""
    return json.dumps([function.name, function.handler, dict(function.environment)], sort_keys=True)


class LambdaRuntime:
    """Execution environments for the zip's functions, warm between invocations, one per concurrent call."""

    def __init__(self, package: LambdaPackage, endpoint_url: str) -> None:
        self.package = package
        self.endpoint_url = endpoint_url
        self._idle: dict[str, list[_Environment]] = {}
        self._all: list[_Environment] = []
        self._lock = threading.Lock()
        self.invoked: list[str] = []

    def invoke(self, function: Function, event: Any) -> Any:
        with self._lock:
            self.invoked.append(function.name)
            idle = self._idle.setdefault(_key(function), [])
            environment = idle.pop() if idle else None
            if environment is None:
                environment = _Environment(self.package, function, self.endpoint_url)
                self._all.append(environment)
        try:
            result = environment.invoke(event, function)
        except InvocationError as exc:
            if exc.error_type == "Sandbox.Timedout":
                raise  # the environment is gone
            self._release(function, environment)
            raise
        self._release(function, environment)
        return result

    def _release(self, function: Function, environment: _Environment) -> None:
        with self._lock:
            self._idle[_key(function)].append(environment)

    def close(self) -> None:
        with self._lock:
            environments, self._all, self._idle = self._all, [], {}
        for environment in environments:
            if environment.process.poll() is None:
                environment.close()


def configured_function(backend: LambdaBackend, function_name: str, qualifier: str | None) -> Function:
    """The function as moto holds its configuration: handler, environment variables, timeout."""
    configured = backend.get_function(function_name, qualifier)
    return Function(
        name=configured.function_name,
        handler=configured.handler,
        environment=dict(configured.environment_vars),
        timeout_s=float(configured.timeout),
    )


def route_moto_invoke(monkeypatch: pytest.MonkeyPatch, runtime: LambdaRuntime) -> None:
    """moto's Lambda invoke wants Docker: run the function's configured handler from the zip instead, with
    the function's configured environment and timeout, and answer as Lambda's Invoke API does."""

    def invoke(
        self: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        function = configured_function(self, function_name, qualifier)
        try:
            result = runtime.invoke(function, json.loads(body) if body else {})
        except InvocationError as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": exc.error_type, "errorMessage": exc.message}).encode()
        return json.dumps(result).encode()

    monkeypatch.setattr(LambdaBackend, "invoke", invoke)
