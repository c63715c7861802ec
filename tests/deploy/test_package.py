"""The Lambda package: reproducible, small, with every handler and without boto3."""

from __future__ import annotations

import zipfile
from pathlib import Path

from adoscale.packaging import HANDLER_MODULES, build_zip, install_dependencies


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
    for module in HANDLER_MODULES:
        assert module.replace(".", "/") + ".py" in names
    assert any(n.startswith("pydantic_core/") and n.endswith(".so") and "aarch64" in n for n in names)
    assert not any(n.startswith(("boto3/", "botocore/")) for n in names)
    assert not any("__pycache__" in n for n in names)
    assert not any(n.endswith(".asl.json") for n in names)  # the workflow is deployed by Terraform, not run
    assert not any(
        n.startswith(("adoscale/cli/", "adoscale/demo/", "adoscale/sim/", "adoscale/emulator/")) for n in names
    )
