"""The Lambda package: one zip for every handler, built reproducibly (same inputs, same bytes).

Dependencies are installed for the Lambda platform (arm64, CPython 3.12) with pip's `--platform`
and `--only-binary=:all:`; boto3 and botocore are left to the runtime. Entries are sorted, timestamps
fixed, permissions normalised, and bytecode caches left out, so two builds of the same sources and
dependency versions give identical bytes.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import adoscale

LAMBDA_REQUIREMENTS = ("httpx>=0.27", "pydantic>=2.7", "PyYAML>=6.0", "aws-lambda-powertools>=3.0")
# What the handlers import; the CLI, demo, emulator and simulator stay out of the Lambda package.
PACKAGE_PARTS = (
    "__init__.py",
    "py.typed",
    "secrets.py",
    "config.py",
    "aws.py",
    "reconcile.py",
    "transient.py",
    "lease",
    "ado",
    "scaling",
    "compute",
    "environments",
    "handlers",
    "workflow",
)
EXCLUDED_DEPENDENCIES = ("boto3", "botocore", "s3transfer", "jmespath", "python_dateutil", "dateutil", "six", "urllib3")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
HANDLER_MODULES = (
    "adoscale.handlers.pass_",
    "adoscale.handlers.waiter",
    "adoscale.handlers.lifecycle",
    "adoscale.handlers.sweeper",
)


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


def build_zip(output: Path, dependencies: Path | None) -> str:
    """Write the zip and return its SHA-256. `dependencies`: a directory from `install_dependencies`."""
    source = Path(adoscale.__file__).parent
    entries: list[tuple[str, Path]] = []
    for part in PACKAGE_PARTS:
        path = source / part
        if path.is_dir():
            entries += list(_files(path, f"adoscale/{part}/"))
        elif path.exists():
            entries.append((f"adoscale/{part}", path))
    if dependencies is not None:
        entries += list(_files(dependencies, ""))
    entries.sort(key=lambda entry: entry[0])
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return hashlib.sha256(output.read_bytes()).hexdigest()
