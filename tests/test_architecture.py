"""The library's layers (docs/ARCHITECTURE.md): nothing imports upward, and no module-level import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: bottom to top; a module may import its own layer or any below it
LAYERS = [
    {
        "cmlib",
        "cmlib.errors",
        "cmlib.vocab",
        "cmlib.validation",
        "cmlib.base",
        "cmlib.artefacts",
        "cmlib.curves",
        "cmlib.paths",
        "cmlib.lazy",
        "cmlib.memory",
        "cmlib.process",
    },
    {"cmlib.engine"},
    {"cmlib.data"},
    {
        "cmlib.market",
        "cmlib.experiments",
        "cmlib.survival",
        "cmlib.optimize",
        "cmlib.finance",
        "cmlib.scorecard",
        "cmlib.monitoring",
        "cmlib.value",
    },
    {"cmlib.report"},
    {"cmlib.cli", "cmlib.__main__", "cmlib.data.cli"},
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module: str) -> int:
    """The layer of a module: the most specific entry of LAYERS that it is or lies inside."""
    best, best_len = None, -1
    for i, names in enumerate(LAYERS):
        for n in names:
            if (
                (module == n or module.startswith(n + "."))
                and len(n) > best_len
                and (n != "cmlib" or module == n)
            ):
                best, best_len = i, len(n)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and to docs/ARCHITECTURE.md")
    return best


def imports(path: Path, top_level_only: bool) -> set[str]:
    """cmlib modules imported by a file (at module level only, or anywhere)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "cmlib"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "cmlib":
            # `from cmlib import engine` imports the submodule cmlib.engine
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(
                    sub
                    if (SRC / (sub.replace(".", "/") + ".py")).exists()
                    or (SRC / sub.replace(".", "/")).is_dir()
                    else node.module
                )
    return out


FILES = sorted((SRC / "cmlib").rglob("*.py"))


def test_every_module_has_a_layer():
    for f in FILES:
        layer(module_name(f))


@pytest.mark.parametrize("path", FILES, ids=lambda p: module_name(p))
def test_nothing_imports_upward(path):
    me = module_name(path)
    upward = sorted(m for m in imports(path, top_level_only=False) if layer(m) > layer(me))
    assert not upward, f"{me} (layer {layer(me)}) imports upward: {upward}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (a list of modules, first = last), or None."""
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt, [*stack, nxt])):
                return found
        state[node] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n, [n])):
            return found
    return None


def test_no_import_cycle():
    graph = {
        module_name(f): {m for m in imports(f, top_level_only=True) if m != module_name(f)} for f in FILES
    }
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checker_finds_an_upward_import_and_a_cycle(tmp_path):
    # the old shape: data.synthetic imported optimize, which (through scorecard) imported data.schemas
    assert layer("cmlib.optimize") > layer("cmlib.data.synthetic")
    f = tmp_path / "m.py"
    f.write_text("from cmlib.optimize import adstock\nfrom cmlib import engine\n")
    assert imports(f, top_level_only=True) == {"cmlib.optimize", "cmlib.engine"}
    old = {
        "cmlib.data.synthetic": {"cmlib.optimize"},
        "cmlib.optimize": {"cmlib.scorecard"},
        "cmlib.scorecard": {"cmlib.scorecard.binning"},
        "cmlib.scorecard.binning": {"cmlib.data.schemas"},
        "cmlib.data.schemas": {"cmlib.data.synthetic"},
    }
    assert find_cycle(old) == [
        "cmlib.data.schemas",
        "cmlib.data.synthetic",
        "cmlib.optimize",
        "cmlib.scorecard",
        "cmlib.scorecard.binning",
        "cmlib.data.schemas",
    ]


PACKAGES = [
    "cmlib.survival",
    "cmlib.experiments",
    "cmlib.engine",
    "cmlib.optimize",
    "cmlib.market",
    "cmlib.data.synthetic",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_a_split_package_re_exports_its_public_names(package):
    """`from cmlib import survival as sv; sv.cox` keeps working whichever section module holds cox."""
    import importlib

    pkg = importlib.import_module(package)
    missing = []
    for f in sorted(Path(pkg.__file__).parent.glob("*.py")):
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            else:
                continue
            missing += [f"{f.stem}.{n}" for n in names if not n.startswith("_") and not hasattr(pkg, n)]
    assert not missing, f"{package} does not re-export {missing}"
