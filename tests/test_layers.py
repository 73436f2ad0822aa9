"""The package's layers, read statically (``ast``) from every module under ``src/deepimagine``:

* ``deepimagine.core`` is the contract package: it imports nothing of the package outside itself;
* a stage package (the package of each ``cli.STAGES`` module: ``registry``, ``tables``, ``pairs``, ...)
  imports only ``core`` and its own folder, never another stage's package (nor ``cli``);
* no import cycle among the package's modules.

Imports count wherever they are written (lazy imports inside functions included), relative ones
resolved, and ``importlib.import_module("deepimagine....")`` with a literal name counts as an import.
``from package import name`` depends on ``package.name`` when that is a module, else on ``package``.
"""
from __future__ import annotations

import ast
from pathlib import Path

from deepimagine import cli
from fixtures.package import PACKAGE, SRC, import_base, module_files

CORE = "core"


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """Modules of the package that ``module`` imports -> the first line that does."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, int] = {}

    def add(name: str, line: int) -> None:
        if name in modules and name != module:
            found.setdefault(name, line)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                add(a.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = import_base(package, node)
            for a in node.names:
                sub = f"{base}.{a.name}"
                add(sub if sub in modules else base, node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            add(node.args[0].value, node.lineno)
    return found


def import_graph(src: Path = SRC, package: str = PACKAGE) -> tuple[dict[str, dict[str, int]], dict[str, Path]]:
    modules = module_files(src, package)
    return {m: imports_of(m, p, modules) for m, p in modules.items()}, modules


def layer_violations(graph: dict[str, dict[str, int]], modules: dict[str, Path], stages: set[str],
                     package: str = PACKAGE, core: str = CORE) -> list[str]:
    """'file:line: a imports b (why)' for every import that crosses the layers."""

    def home(m: str) -> str | None:
        parts = m.split(".")
        return parts[1] if len(parts) > 1 and modules[m].parent != modules[package].parent else None

    out = []
    for m, deps in sorted(graph.items()):
        own = home(m)
        if own is None:
            continue                      # the package root and cli.py: the entry point may dispatch anywhere
        for d, line in sorted(deps.items()):
            other = home(d)
            if d == package or other == own or other == core and own in stages:
                continue
            if own == core:
                why = "core imports only core"
            elif own in stages:
                why = f"the {own} stage imports only core and its own package"
            else:
                why = f"{own} is neither core nor a stage package"
            out.append(f"{modules[m].relative_to(modules[package].parents[1])}:{line}: {m} imports {d} ({why})")
    return out


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The import cycles: each strongly connected component of more than one module (or a self-import)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:                     # Tarjan's algorithm
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, {}):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def stage_packages() -> set[str]:
    return {m.split(".")[1] for m in cli.STAGES.values()}


# ---------------------------------------------------------------- the package itself


def test_every_sub_package_is_core_or_a_stage():
    subs = {p.name for p in (SRC / PACKAGE).iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert CORE in subs
    assert subs - {CORE} == stage_packages(), (
        "a sub-package that is neither core nor the package of a cli.STAGES module has no layer: "
        f"{sorted(subs - {CORE} - stage_packages())}")


def test_stages_import_only_core_and_their_own_package():
    graph, modules = import_graph()
    bad = layer_violations(graph, modules, stage_packages())
    assert not bad, "imports across the layers:\n" + "\n".join(bad)


def test_no_import_cycles():
    graph, _ = import_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


# ---------------------------------------------------------------- the checks themselves, on small packages


def _package(tmp_path: Path, files: dict[str, str]) -> tuple[dict, dict]:
    for name, text in {"__init__.py": "", "core/__init__.py": "", "a/__init__.py": "", "b/__init__.py": "",
                       **files}.items():
        (tmp_path / "pk" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pk" / name).write_text(text)
    return import_graph(tmp_path, "pk")


def test_a_cross_stage_import_and_core_importing_a_stage_fail(tmp_path):
    graph, modules = _package(tmp_path, {
        "core/x.py": "def f():\n    from ..a import s\n",                       # core -> stage, lazily
        "a/s.py": "from ..core import x\nfrom . import t\n",                      # allowed
        "a/t.py": "import importlib\nimportlib.import_module('pk.b.u')\n",         # stage a -> stage b
        "b/u.py": "from pk.core.x import f\n",                                     # allowed
        "cli.py": "from .a import s\nfrom .b import u\n",                          # the entry point: allowed
    })
    bad = layer_violations(graph, modules, {"a", "b"}, package="pk")
    assert [b.split(": ", 1)[1] for b in bad] == [
        "pk.a.t imports pk.b.u (the a stage imports only core and its own package)",
        "pk.core.x imports pk.a.s (core imports only core)"], bad


def test_a_cycle_fails_lazy_or_not(tmp_path):
    graph, _ = _package(tmp_path, {
        "a/p.py": "from . import q\n",
        "a/q.py": "def g():\n    from .r import h\n",
        "a/r.py": "from .p import x\n",
        "a/s.py": "from . import p\n",                                             # into the cycle, not on it
    })
    assert cycles(graph) == [["pk.a.p", "pk.a.q", "pk.a.r"]]
    graph["pk.a.r"] = {}
    assert cycles(graph) == []
