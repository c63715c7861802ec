"""Running terraform in tests: a project-local CLI config pointing at the provider mirror found at run
time (never hard-coded), a data directory per run, and loud failure when terraform is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

TERRAFORM_DIR = REPO / "deploy" / "terraform"
MODULES = sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir())
EXAMPLES = sorted(p for p in (TERRAFORM_DIR / "examples").iterdir() if p.is_dir())


def terraform_binary() -> str:
    found = shutil.which("terraform")
    if found is None:
        pytest.fail("terraform is required for the deploy tests and is not on PATH")
    return found


def find_mirror() -> Path | None:
    """The directory holding `registry.terraform.io`, searched the way the machine notes describe."""
    for root in (Path("/opt"), Path("/usr/share"), Path("/usr/local/share"), Path.home(), Path("/")):
        if not root.exists():
            continue
        for candidate in _walk(root, depth=4):
            return candidate.parent
    return None


def _walk(root: Path, depth: int) -> list[Path]:
    found: list[Path] = []
    try:
        for child in root.iterdir():
            if not child.is_dir() or child.is_symlink() or child.name in ("proc", "sys", "dev"):
                continue
            if child.name == "registry.terraform.io":
                return [child]
            if depth > 1:
                found += _walk(child, depth - 1)
                if found:
                    return found
    except (PermissionError, OSError):
        return found
    return found


def cli_env(workdir: Path) -> dict[str, str]:
    config = workdir / "terraform.rc"
    mirror = find_mirror()
    if mirror is not None:
        config.write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
            '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n'
            '  direct {\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n'
        )
    else:
        config.write_text("")  # no mirror on this machine: terraform fetches providers as usual
    env = dict(os.environ)
    env["TF_CLI_CONFIG_FILE"] = str(config)
    env["TF_DATA_DIR"] = str(workdir / "data")
    env["TF_IN_AUTOMATION"] = "1"
    env["CHECKPOINT_DISABLE"] = "1"
    return env


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [terraform_binary(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
