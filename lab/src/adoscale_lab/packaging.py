"""The Lambda package: the whole product package and its dependencies, built reproducibly.

The zip holds the whole `adoscale` package, nothing carved out: a carved list is how three of five deployed
handlers once shipped without a module they import. The rig (emulator, simulator, demo, these build tools) is
the separate `adoscale_lab` package, never zipped. `build_zip` checks, by reading the sources, that no module in
the zip imports a module the zip lacks (the rig above all), and that every handler Terraform deploys (the
`functions.json` of each module under `deploy/terraform/modules/`, the one list of deployed handlers) is in it.
The CLI ships too (it is part of the product) but needs typer and rich, which the zip leaves out: no handler
imports it, and the zip test imports every handler with only the zip and boto3 on the path.

Dependencies are installed for the Lambda platform (arm64, CPython 3.12) with pip's `--platform` and
`--only-binary=:all:`; boto3 and botocore are left to the runtime. Entries are sorted, timestamps fixed,
permissions normalised, and bytecode caches left out, so two builds of the same sources and dependency
versions give identical bytes.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypedDict

import adoscale

# tzdata: the IANA zone database as a package, which `zoneinfo` falls back to where the system has none (the
# Lambda runtimes on Amazon Linux 2023 may have none): a warm pool's or schedule's `timezone` needs it.
LAMBDA_REQUIREMENTS = ("httpx>=0.27", "pydantic>=2.7", "PyYAML>=6.0", "aws-lambda-powertools>=3.0", "tzdata>=2024.1")
EXCLUDED_DEPENDENCIES = ("boto3", "botocore", "s3transfer", "jmespath", "python_dateutil", "dateutil", "six", "urllib3")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SOURCE = Path(adoscale.__file__).parent
RIG = "adoscale_lab"  # the rig package: the product never imports it
# In a source checkout: the Terraform modules, each listing the functions it deploys in `functions.json`.
MODULES_DIR = SOURCE.parents[1] / "deploy" / "terraform" / "modules"


class FunctionSpec(TypedDict):
    handler: str  # "package.module.function"
    actions: list[str]  # the IAM actions it calls, granted one by one


class PackageError(Exception):
    """The package would not run as deployed (a missing module or handler)."""


def deployed_functions(modules_dir: Path = MODULES_DIR) -> dict[str, dict[str, FunctionSpec]]:
    """Every function Terraform deploys, by module: `{module: {function: {"handler": ..., "actions": [...]}}}`.

    The one list read by Terraform (`jsondecode(file(...))`), the least-privilege tests and the packager."""
    return {path.parent.name: json.loads(path.read_text()) for path in sorted(modules_dir.glob("*/functions.json"))}


def handler_modules(modules_dir: Path = MODULES_DIR) -> list[str]:
    """The modules of every deployed handler, sorted, each once."""
    specs = [spec for functions in deployed_functions(modules_dir).values() for spec in functions.values()]
    return sorted({spec["handler"].rsplit(".", 1)[0] for spec in specs})


def install_dependencies(target: Path, *, platform: str = "manylinux2014_aarch64", python: str = "3.12") -> None:
    """pip-install the Lambda's dependencies for the Lambda platform into `target`."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--target", str(target), "--platform", platform, "--implementation", "cp", "--python-version", python,
        "--only-binary=:all:", *LAMBDA_REQUIREMENTS,
    ]  # fmt: skip
    subprocess.run(command, check=True)  # noqa: S603 - fixed argv, no shell
    for name in target.iterdir():
        stem = name.name.split("-")[0].lower()
        if stem in EXCLUDED_DEPENDENCIES or name.name == "bin":
            shutil.rmtree(name) if name.is_dir() else name.unlink()


def _files(root: Path, prefix: str) -> Iterable[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        yield f"{prefix}{path.relative_to(root).as_posix()}", path


def product_files(source: Path = SOURCE) -> list[tuple[str, Path]]:
    """`(name in the zip, file)` for the whole product package."""
    return list(_files(source, "adoscale/"))


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterable[str]:
    """Every module name an `import` or `from ... import` in `module` names, at any depth (inside functions
    too), relative imports resolved: `from a import b` yields `a` and `a.b` (b may be a submodule). The one
    reading of imports, for this package check and the import-cycle test."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            yield base
            # `from adoscale.x import y` may name a submodule y as well as an attribute.
            yield from (f"{base}.{alias.name}" if base else alias.name for alias in node.names)


def _modules(names: Iterable[str]) -> dict[str, str]:
    """Dotted module name -> zip name, for the `.py` files among `names`."""
    modules = {}
    for name in names:
        if name.endswith(".py"):
            dotted = name[: -len(".py")].replace("/", ".")
            modules[dotted.removesuffix(".__init__")] = name
    return modules


def missing_imports(shipped: Mapping[str, bytes], source: Path = SOURCE) -> dict[str, list[str]]:
    """For each shipped `adoscale` module, the modules of the source tree (or of the rig) it imports that do
    not ship."""
    known = _modules(name for name, _ in _files(source, "adoscale/"))
    present = _modules(shipped)
    problems: dict[str, list[str]] = {}
    for module, name in sorted(present.items()):
        tree = ast.parse(shipped[name])
        lacking = {
            m
            for m in imported_names(tree, module, name.endswith("__init__.py"))
            if (m in known and m not in present) or m.split(".")[0] == RIG
        }
        if lacking:
            problems[module] = sorted(lacking)
    return problems


def build_zip(output: Path, dependencies: Path | None, *, modules_dir: Path = MODULES_DIR) -> str:
    """Write the zip and return its SHA-256. `dependencies`: a directory from `install_dependencies`.

    Refuses (PackageError) a package in which a shipped module imports one that does not ship, or that
    lacks the module of a handler Terraform deploys."""
    product = product_files()
    contents = {name: path.read_bytes() for name, path in product}
    problems = [f"{module} imports {', '.join(lacking)}" for module, lacking in missing_imports(contents).items()]
    shipped = _modules(contents)
    problems += [f"deployed handler {m} is missing" for m in handler_modules(modules_dir) if m not in shipped]
    if problems:
        raise PackageError("the Lambda package would not run: " + "; ".join(problems))
    entries = list(product)
    if dependencies is not None:
        entries += list(_files(dependencies, ""))
    entries.sort(key=lambda entry: entry[0])
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, contents.get(name) or path.read_bytes(), compresslevel=9)
    return hashlib.sha256(output.read_bytes()).hexdigest()
