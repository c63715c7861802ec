"""The Lambda package: the whole product and nothing of the rig, reproducible, small, without boto3, and
every handler Terraform deploys imports from it as Lambda would import it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

import adoscale
from adoscale_lab.packaging import (
    PackageError,
    build_zip,
    deployed_functions,
    handler_modules,
    install_dependencies,
    missing_imports,
    product_files,
)
from tests.lambda_package import LambdaPackage

TERRAFORM_MODULES = Path(__file__).resolve().parents[2] / "deploy" / "terraform" / "modules"


def test_two_builds_give_the_same_bytes_and_the_package_is_complete(tmp_path: Path) -> None:
    deps = tmp_path / "deps"
    install_dependencies(deps)
    first = build_zip(tmp_path / "a.zip", deps)
    second = build_zip(tmp_path / "b.zip", deps)
    assert first == second
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    size = (tmp_path / "a.zip").stat().st_size
    print(f"\nLambda package: {size / 1e6:.2f} MB zipped, sha256 {first}")
    assert size < 10_000_000
    names = set(zipfile.ZipFile(tmp_path / "a.zip").namelist())
    assert {name for name, _ in product_files()} <= names
    assert any(n.startswith("pydantic_core/") and n.endswith(".so") and "aarch64" in n for n in names)
    assert not any(n.startswith(("boto3/", "botocore/")) for n in names)
    assert not any("__pycache__" in n for n in names)
    assert not any(n.endswith(".asl.json") for n in names)  # the workflow is deployed by Terraform, not run
    assert not any(n.startswith("adoscale_lab/") for n in names)


def test_the_package_is_the_whole_product_and_nothing_of_the_rig() -> None:
    names = {name for name, _ in product_files()}
    source = Path(adoscale.__file__).parent
    every = {
        f"adoscale/{p.relative_to(source).as_posix()}" for p in source.rglob("*.py") if "__pycache__" not in p.parts
    }
    assert every <= names  # nothing carved out, including modules no list ever named
    assert not any(n.startswith("adoscale_lab/") for n in names)


def test_the_product_never_imports_the_rig(tmp_path: Path) -> None:
    """A product module importing `adoscale_lab` (even inside a function) makes the package refuse to build."""
    contents = {name: path.read_bytes() for name, path in product_files()}
    assert missing_imports(contents) == {}
    contents["adoscale/handlers/pass_.py"] += b"\ndef _x() -> None:\n    from adoscale_lab.emulator import AdoModel\n"
    assert missing_imports(contents) == {
        "adoscale.handlers.pass_": ["adoscale_lab.emulator", "adoscale_lab.emulator.AdoModel"]
    }


def test_every_deployed_handler_is_read_from_the_terraform_lists() -> None:
    functions = deployed_functions()
    assert set(functions) == {"control-plane", "vm-environment"}
    # The list Terraform reads is the list the packager checks: the same files, parsed the same way.
    for module, handlers in functions.items():
        spec = json.loads((TERRAFORM_MODULES / module / "functions.json").read_text())
        assert spec == handlers
        assert all(s["actions"] and s["handler"].startswith("adoscale.handlers.") for s in spec.values())
    assert "adoscale.handlers.hook" in handler_modules()


def test_every_handler_terraform_deploys_imports_from_the_built_zip(lambda_package: LambdaPackage) -> None:
    """A fresh interpreter (`-I -S`) with only the extracted zip and the runtime's boto3 on its path."""
    modules = handler_modules()
    code = (
        "import importlib, json\n"
        f"for m in {modules!r}:\n"
        "    h = importlib.import_module(m).handler\n"
        "    assert callable(h), m\n"
        "import adoscale, pydantic\n"
        "print(json.dumps([adoscale.__file__, pydantic.__file__]))\n"
    )
    done = lambda_package.python(code)
    assert done.returncode == 0, done.stderr[-3000:]
    adoscale_file, pydantic_file = json.loads(done.stdout.strip().splitlines()[-1])
    assert adoscale_file.startswith(str(lambda_package.task_root))  # the zip's copy, not the source tree's
    assert pydantic_file.startswith(str(lambda_package.task_root))


def test_the_zip_brings_its_own_zone_data_for_a_runtime_without_any(lambda_package: LambdaPackage) -> None:
    """A pool's `timezone` (and a warm schedule's) is read with `zoneinfo`, which looks in the system's zone
    files first and falls back to the `tzdata` package (the Python docs, `zoneinfo`, "Data sources"). The
    Lambda runtimes built on Amazon Linux 2023 may carry no system zone files (provided.al2023 has none:
    aws/aws-lambda-dotnet#1620), so the zip must bring the package: here the system's paths are emptied
    (`zoneinfo.reset_tzpath(to=[])`, as on such a runtime) and a configuration in Sydney's zone still loads."""
    config = (
        "organization_url: https://dev.azure.com/example\n"
        "pools:\n  - name: p\n    ecs: {cluster: c, task_definition: td, subnets: [subnet-1]}\n"
        "    warm_pool: {mode: predictive, timezone: Australia/Sydney}\n"
    )
    code = (
        "import zoneinfo\n"
        "zoneinfo.reset_tzpath(to=[])\n"
        "from adoscale.config import parse_config\n"
        "from adoscale.control.decide import warm_policy_for\n"
        f"pool = parse_config({config!r}, 'c.yaml').pools[0]\n"
        "import tzdata\n"
        "print(warm_policy_for(pool).timezone, tzdata.__file__)\n"
    )
    done = lambda_package.python(code)
    assert done.returncode == 0, done.stderr[-3000:]
    zone, data = done.stdout.split()
    assert zone == "Australia/Sydney" and data.startswith(str(lambda_package.task_root))


def test_a_missing_dependency_fails_the_import_check(lambda_package: LambdaPackage) -> None:
    """The check above can fail: a module the package lacks is not found in the fresh interpreter."""
    done = lambda_package.python("import adoscale_lab.emulator")
    assert done.returncode != 0
    assert "No module named 'adoscale_lab'" in done.stderr


def test_packaging_refuses_a_shipped_module_that_imports_one_left_out(tmp_path: Path) -> None:
    source = tmp_path / "adoscale"
    (source / "extra").mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "extra" / "__init__.py").write_text("")
    (source / "pool.py").write_text("def f():\n    from adoscale.extra import runner\n    return runner\n")
    (source / "extra" / "runner.py").write_text("")
    shipped = {"adoscale/__init__.py": b"", "adoscale/pool.py": (source / "pool.py").read_bytes()}
    assert missing_imports(shipped, source) == {"adoscale.pool": ["adoscale.extra", "adoscale.extra.runner"]}


def test_packaging_refuses_a_deployed_handler_that_is_not_in_the_package(tmp_path: Path) -> None:
    (tmp_path / "control-plane").mkdir()
    (tmp_path / "control-plane" / "functions.json").write_text(
        json.dumps({"new": {"handler": "adoscale.handlers.nosuch.handler", "actions": ["ssm:GetParameter"]}})
    )
    with pytest.raises(PackageError, match=r"adoscale\.handlers\.nosuch"):
        build_zip(tmp_path / "a.zip", None, modules_dir=tmp_path)
    (tmp_path / "control-plane" / "functions.json").write_text(
        json.dumps({"sim": {"handler": "adoscale_lab.sim.runner.handler", "actions": ["ssm:GetParameter"]}})
    )
    with pytest.raises(PackageError, match=r"adoscale_lab\.sim\.runner"):
        build_zip(tmp_path / "a.zip", None, modules_dir=tmp_path)
