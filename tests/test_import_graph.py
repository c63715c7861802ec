"""No import cycle among the modules under `src/` and `lab/src/` (the product and its rig), and the product
never imports the rig; imports inside functions and `if TYPE_CHECKING:` included.

A cycle hidden by an import inside a function still couples the modules: neither can be understood, tested
or moved without the other, and the import order decides whether it works. So every `import` and
`from ... import` at any depth is an edge. `from pkg import name` is an edge to `pkg` (its `__init__`) and,
when `pkg.name` is a module, to that module too; relative imports are resolved against the importing module.
Parent packages are not edges (`import a.b.c` runs `a/__init__` too, but counting that would make every
re-exporting `__init__` a cycle with its own submodules, which is the layout this rule protects).
"""

from __future__ import annotations

import ast
from pathlib import Path

from adoscale_lab.packaging import imported_names

ROOT = Path(__file__).resolve().parent.parent
SOURCES = (ROOT / "src", ROOT / "lab" / "src")  # the product, then the rig


def module_names(src: Path) -> dict[str, Path]:
    """Every module under `src`, by dotted name; a package is named by its `__init__.py`."""
    found: dict[str, Path] = {}
    for path in sorted(src.rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules under `src` that the module `name` imports, anywhere in its body (the packager's reading
    of imports, `adoscale_lab.packaging.imported_names`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    targets = set(imported_names(tree, name, path.name == "__init__.py"))
    return {target for target in targets if target in modules and target != name}


def import_graph(*roots: Path) -> dict[str, set[str]]:
    modules = {name: path for src in roots for name, path in module_names(src).items()}
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                child = pending.pop()
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A concrete loop inside a component, for the failure message (a shortest path back to its start)."""
    members = set(component)
    start = component[0]
    paths: dict[str, list[str]] = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    return [*paths[node], start]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    following.append(child)
        frontier = following
    return component  # unreachable for a strongly connected component


# -- the rule ---------------------------------------------------------------------------------------------


def test_no_import_cycles_in_the_product_or_the_rig() -> None:
    graph = import_graph(*SOURCES)
    assert any(name.startswith("adoscale_lab.") for name in graph)  # both trees were read
    loops = [
        f"{', '.join(component)} (e.g. {' -> '.join(_one_cycle(graph, component))})" for component in cycles(graph)
    ]
    assert not loops, "import cycles:\n  " + "\n  ".join(loops)


def test_the_product_never_imports_the_rig() -> None:
    graph = import_graph(*SOURCES)
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name.split(".")[0] == "adoscale"
        for target in targets
        if target.split(".")[0] == "adoscale_lab"
    )
    assert not wrong, "the product imports the rig:\n  " + "\n  ".join(wrong)


# -- the checker itself, on small trees -----------------------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_an_import_inside_a_function_is_an_edge(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "p/__init__.py": "",
            "p/a.py": "from p.b import thing\n",
            "p/b.py": "def thing():\n    from p import a\n    return a\n",
        },
    )
    graph = import_graph(src)
    assert graph["p.b"] == {"p", "p.a"}
    assert cycles(graph) == [["p.a", "p.b"]]


def test_relative_imports_resolve_and_a_package_init_is_a_node(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "p/__init__.py": "from .a import x\n",
            "p/a.py": "from . import b\nx = 1\n",
            "p/b.py": "from .. import p\n",  # `from .. import p` from p.b: the parent of p, then p
            "p/sub/__init__.py": "from . import c\n",
            "p/sub/c.py": "from ..a import x\n",
        },
    )
    graph = import_graph(src)
    assert graph["p"] == {"p.a"}
    assert graph["p.a"] == {"p", "p.b"}  # `from . import b`: the package and the module b
    assert graph["p.sub"] == {"p.sub.c"}
    assert graph["p.sub.c"] == {"p.a"}
    assert cycles(graph) == [["p", "p.a", "p.b"]]


def test_a_name_that_is_not_a_module_is_an_edge_to_its_package_only(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "p/__init__.py": "from p.a import X\n",
            "p/a.py": "X = 1\n",
            "q.py": "from p import X\nimport os\n\nif True:\n    import p.a\n",
        },
    )
    graph = import_graph(src)
    assert graph["q"] == {"p", "p.a"}
    assert cycles(graph) == []


def test_a_submodule_importing_its_package_back_is_a_cycle(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "p/__init__.py": "from p.app import make\n",
            "p/app.py": "from p import wire\n",
            "p/wire.py": "",
        },
    )
    graph = import_graph(src)
    loops = cycles(graph)
    assert loops == [["p", "p.app"]]
    assert _one_cycle(graph, loops[0]) == ["p", "p.app", "p"]
