"""Bad configuration files, as a careless or hostile user writes them: each is refused by the real CLI with
exit 2 (3 for a PAT source that cannot be read), the file and field named, and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner, Result

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale.config import MAX_CONFIG_BYTES
from tests.cpu import cpu_time

GOOD = """\
organization_url: https://dev.azure.com/contoso
pools:
  - name: linux-fargate
    max_agents: 20
    ecs:
      cluster: ado-agents
      task_definition: ado-agent
      subnets: [subnet-0abc]
"""

SECOND_POOL = """\
  - name: Linux-Fargate
    ecs: {cluster: c, task_definition: t, subnets: [s]}
"""

NESTED = "[" * 5000 + "]" * 5000
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
)

# name → (file content, exit code, what the message must name)
CASES: dict[str, tuple[str | bytes, int, list[str]]] = {
    "utf16-file": (GOOD.encode("utf-16"), 2, ["not UTF-8", "offset 0"]),
    "binary-junk": (bytes(range(256)) * 4, 2, ["not UTF-8"]),
    "nul-in-text": (GOOD.replace("pools:", "po\0ols:"), 2, ["not readable as text", "#x0000"]),
    "duplicate-key": (
        GOOD.replace("max_agents: 20", "max_agents: 5\n    max_agents: 500"),
        2,
        ["line 5", "duplicate key 'max_agents'", "first at line 4"],
    ),
    "duplicate-top-level-key": (GOOD + "organization_url: https://x\n", 2, ["duplicate key 'organization_url'"]),
    "exponent-max-agents": (GOOD.replace("max_agents: 20", "max_agents: 1e23"), 2, ["max_agents", "valid integer"]),
    "float-max-agents": (GOOD.replace("max_agents: 20", "max_agents: 1.0e+23"), 2, ["max_agents", "valid integer"]),
    "billion-standby": (
        GOOD.replace("max_agents: 20", "max_agents: 20\n    standby_agents: 1000000000"),
        2,
        ["pools[0] (linux-fargate) → standby_agents", "less than or equal to 1000"],
    ),
    "huge-max-agents": (GOOD.replace("max_agents: 20", "max_agents: 5000"), 2, ["max_agents", "1000"]),
    "bool-timeout": (GOOD + "    idle_timeout_seconds: true\n", 2, ["idle_timeout_seconds", "valid integer"]),
    "float-timeout": (GOOD + "    idle_timeout_seconds: 300.0\n", 2, ["idle_timeout_seconds", "valid integer"]),
    "string-timeout": (GOOD + "    idle_timeout_seconds: '300'\n", 2, ["idle_timeout_seconds", "valid integer"]),
    "week-long-timeout": (GOOD + "    startup_timeout_seconds: 604800\n", 2, ["startup_timeout_seconds", "86400"]),
    "bool-grace": (
        GOOD + "environments: [{project: p, name: e, grace_seconds: yes}]\n",
        2,
        ["environments.0.grace_seconds", "valid integer"],
    ),
    "string-public-ip": (GOOD + "      assign_public_ip: 'yes'\n", 2, ["assign_public_ip", "valid boolean"]),
    "duplicate-pool-names": (GOOD + SECOND_POOL, 2, ["pools[1] (Linux-Fargate) → name", "repeats", "pools[0]"]),
    "deep-nesting": (GOOD + f"junk: {NESTED}\n", 2, ["nested deeper than 32"]),
    "billion-laughs": (GOOD + LAUGHS, 2, ["aliases"]),
    "recursive-alias": (GOOD + "loop: &loop [*loop]\n", 2, ["aliases"]),
    "unhashable-key": (GOOD + "? [a, b]\n: 1\n", 2, ["unhashable"]),
    "list-of-numbers-as-capabilities": (GOOD + "    capabilities: [1, 2]\n", 2, ["capabilities", "names"]),
    "secret-reference-wrong": (GOOD + "pat_secret: 'arn:aws:ssm:us-east-1:1:parameter/x'\n", 2, ["pat_secret"]),
    "parameter-reference-wrong": (GOOD + "pat_parameter: 'has spaces'\n", 2, ["pat_parameter", "SSM parameter"]),
    "top-level-list": ("- a\n- b\n", 2, ["mapping at the top level"]),
    "impossible-date": (GOOD + "note: 2001-13-45\n", 2, ["a value cannot be read", "month must be in 1..12"]),
    "5000-digit-integer": (GOOD.replace("max_agents: 20", "max_agents: " + "9" * 5000), 2, ["cannot be read"]),
    "megabyte-flow-list": (GOOD + "junk: [" + "1," * 400_000 + "1]\n", 2, ["line 9", "more than 20000 values"]),
    "json-with-duplicates": (
        '{"organization_url": "https://x", "organization_url": "https://y", "pools": []}',
        2,
        ["duplicate key 'organization_url'"],
    ),
}


@pytest.fixture(autouse=True)
def _commands() -> None:
    register()


def validate(path: Path, *extra: str) -> Result:
    return CliRunner().invoke(app, ["config", "validate", str(path), *extra])


def assert_clean_exit(result: Result, code: int) -> None:
    # CliRunner turns an escaped exception into `result.exception`: anything but SystemExit is a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_refused_naming_file_and_field(tmp_path: Path, case: str) -> None:
    content, code, expected = CASES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = validate(path)
    assert_clean_exit(result, code)
    assert path.name in result.output
    for fragment in expected:
        assert fragment in result.output, f"{fragment!r} not in {result.output!r}"


def test_the_good_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    result = validate(path)
    assert_clean_exit(result, 0)
    assert "valid (1 pool(s): linux-fargate)" in result.output


def test_merge_keys_override_without_counting_as_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "organization_url: https://dev.azure.com/contoso\n"
        "x-ecs: &ecs {cluster: c, task_definition: t, subnets: [s]}\n"
        "pools:\n  - {name: a, ecs: {<<: *ecs, cluster: other}}\n"
    )
    result = validate(path)
    # x-ecs is not a key of the configuration: the anchors themselves parse, the stray key is named
    assert_clean_exit(result, 2)
    assert "x-ecs" in result.output and "unknown key" in result.output and "duplicate" not in result.output


def test_a_50_mb_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("w") as handle:
        handle.write(GOOD)
        handle.write("# " + "x" * 50 * 1024 * 1024 + "\n")
    started = time.perf_counter()
    result = validate(path)
    elapsed = time.perf_counter() - started
    assert_clean_exit(result, 2)
    assert f"over the {MAX_CONFIG_BYTES}-byte limit" in result.output
    assert elapsed < 1.0, f"took {elapsed:.2f} s: the size must be checked before reading"


def test_the_costliest_megabyte_is_refused_quickly(tmp_path: Path) -> None:
    """The slowest shapes found for the pure-Python YAML parser, at the size cap: refused in well under the
    11 s the first shape took before values were counted while parsing."""
    shapes = {
        "flow-list": "[" + "1," * (MAX_CONFIG_BYTES // 2 - 40) + "1]",
        "flow-map": "{" + "a: 1, " * (MAX_CONFIG_BYTES // 6 - 40) + "}",
        "anchors": "".join(f"\n  k{i}: &a{i} x" for i in range(MAX_CONFIG_BYTES // 16)),
    }
    for name, junk in shapes.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text((GOOD + "junk: " + junk + "\n")[:MAX_CONFIG_BYTES])
        with cpu_time() as cpu:  # CPU, not wall time: parsing is CPU, and CI's 2 cores are shared
            result = validate(path)
        assert_clean_exit(result, 2)
        assert cpu.seconds < 3.0, f"{name}: {cpu.seconds:.2f} s of CPU"  # about 0.3 s alone


def test_the_real_cli_in_a_subprocess_prints_one_error_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZP_")}
    done = subprocess.run(
        [sys.executable, "-c", "from adoscale.cli import main; main()", "config", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert "not UTF-8 text (byte 0x89 at offset 0)" in done.stderr


# -- PAT sources ------------------------------------------------------------------------------------

SECRET_VALUE = "a-pat-with-a-space inside-0123456789"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        sm.create_secret(Name="ado/empty", SecretString="   ")
        sm.create_secret(Name="ado/spaced", SecretString=SECRET_VALUE)
        sm.create_secret(Name="ado/binary", SecretBinary=b"\xff\xfe\x00")
        sm.create_secret(Name="ado/json-no-pat", SecretString=json.dumps({"user": "x"}))
        sm.create_secret(Name="ado/good", SecretString="good-pat-0123456789")
        yield


PAT_CASES = {
    "missing-secret": ("pat_secret: ado/missing", 3, "pat_secret 'ado/missing': does not exist"),
    "missing-parameter": ("pat_parameter: /ado/missing", 3, "pat_parameter '/ado/missing': does not exist"),
    "empty-secret": ("pat_secret: ado/empty", 3, "pat_secret 'ado/empty': is empty"),
    "whitespace-in-secret": ("pat_secret: ado/spaced", 3, "does not hold a PAT"),
    "binary-secret": ("pat_secret: ado/binary", 3, "holds binary data"),
    "json-without-pat": ("pat_secret: ado/json-no-pat", 3, "JSON without a pat"),
    "no-source-at-all": ("", 2, "no PAT"),
}


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("case", sorted(PAT_CASES))
def test_unreadable_pat_source_is_one_line_naming_the_source(tmp_path: Path, case: str) -> None:
    line, code, expected = PAT_CASES[case]
    path = tmp_path / "c.yaml"
    path.write_text(GOOD + line + "\n")
    result = validate(path, "--check-pat")
    assert_clean_exit(result, code)
    assert expected in result.output
    assert len(result.output.strip().splitlines()) == 2  # the title, then one line naming the source
    assert SECRET_VALUE not in result.output and "inside-0123456789" not in result.output


@pytest.mark.usefixtures("aws")
def test_readable_pat_is_checked_and_never_printed(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD + "pat_secret: ado/good\n")
    result = validate(path, "--check-pat")
    assert_clean_exit(result, 0)
    assert "PAT readable" in result.output and "good-pat-0123456789" not in result.output


@pytest.mark.usefixtures("aws")
def test_environments_sweep_with_a_missing_secret_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD + "pat_secret: ado/missing\nenvironments: [{project: p, name: e}]\n")
    result = CliRunner().invoke(app, ["environments", "sweep", "--config", str(path)])
    assert_clean_exit(result, 3)
    assert "pat_secret 'ado/missing': does not exist" in result.output
