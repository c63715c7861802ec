"""Inputs and outputs tables for the Terraform modules' READMEs, generated from their .tf files.

python -m adoscale_lab.tfdocs    # rewrites the tables between the markers in each module's README
python -m adoscale_lab.tfdocs deploy/terraform/examples    # and in each example's
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
_BLOCK = re.compile(r'^(variable|output) "(\w+)" \{(.*?)^\}', re.MULTILINE | re.DOTALL)
_DESCRIPTION = re.compile(r'^\s*description\s*=\s*"((?:[^"\\]|\\.)*)"', re.MULTILINE)
_TYPE = re.compile(r"^\s*type\s*=\s*(.+)$", re.MULTILINE)
_DEFAULT = re.compile(r"^\s*default\s*=\s*(.+)$", re.MULTILINE)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").strip()


def render_tables(module: Path) -> str:
    lines = ["## Inputs", "", "| name | description | type | default |", "| --- | --- | --- | --- |"]
    for _kind, name, body in _BLOCK.findall((module / "variables.tf").read_text()):
        description = _DESCRIPTION.search(body)
        kind_type = _TYPE.search(body)
        default = _DEFAULT.search(body)
        lines.append(
            f"| `{name}` | {_cell(description.group(1) if description else '')} | "
            f"`{_cell(kind_type.group(1) if kind_type else 'any')}` | "
            f"{'`' + _cell(default.group(1)) + '`' if default else 'required'} |"
        )
    lines += ["", "## Outputs", "", "| name | description |", "| --- | --- |"]
    for _kind, name, body in _BLOCK.findall((module / "outputs.tf").read_text()):
        description = _DESCRIPTION.search(body)
        lines.append(f"| `{name}` | {_cell(description.group(1) if description else '')} |")
    return "\n".join(lines) + "\n"


def update(module: Path) -> None:
    readme = module / "README.md"
    text = readme.read_text() if readme.exists() else f"# {module.name}\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{BEGIN}\n{render_tables(module)}{END}{tail}")


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("deploy/terraform/modules")
    for module_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        update(module_dir)
