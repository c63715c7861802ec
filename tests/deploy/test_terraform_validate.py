"""`terraform fmt -check` and `terraform validate` for every module and example, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.terraform import EXAMPLES, MODULES, TERRAFORM_DIR, cli_env, run


def test_fmt_check(tmp_path: Path) -> None:
    done = run(["fmt", "-check", "-recursive", "-diff"], TERRAFORM_DIR, cli_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("root", MODULES + EXAMPLES, ids=lambda p: p.name)
def test_validate(tmp_path: Path, root: Path) -> None:
    env = cli_env(tmp_path)
    init = run(["init", "-backend=false", "-input=false"], root, env)
    try:
        assert init.returncode == 0, init.stdout + init.stderr
        done = run(["validate", "-no-color"], root, env)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        lock = root / ".terraform.lock.hcl"
        if lock.exists():
            lock.unlink()


def test_every_module_is_documented_like_a_published_module() -> None:
    for module in MODULES:
        for name in ("versions.tf", "variables.tf", "outputs.tf", "README.md"):
            assert (module / name).exists(), f"{module.name}: {name} missing"
        variables = (module / "variables.tf").read_text()
        assert variables.count('variable "') == variables.count("description"), f"{module.name}: undocumented variable"


def test_module_and_example_readmes_list_every_input_and_output() -> None:
    from adoscale_lab.tfdocs import render_tables

    for module in MODULES:
        readme = (module / "README.md").read_text()
        assert render_tables(module) in readme, f"{module.name}: regenerate with `python -m adoscale_lab.tfdocs`"
    for example in EXAMPLES:
        readme = (example / "README.md").read_text()
        assert render_tables(example) in readme, (
            f"{example.name}: regenerate with `python -m adoscale_lab.tfdocs deploy/terraform/examples`"
        )
