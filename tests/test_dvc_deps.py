"""dvc.yaml declares, for every stage, exactly the package files the stage runs and every parameter it
reads, so that ``dvc repro`` re-runs what a change touches. Both are computed statically (``ast``):

Files: the import closure of ``cli.py`` plus the stage's module (``cli.STAGES``) within
``src/deepimagine``: ``import`` / ``from ... import`` at any depth (lazy imports in functions
included), ``importlib.import_module("deepimagine....")`` with a literal name, every package
``__init__.py`` on the way, and data files the code names by a literal string (e.g. ``"schema.sql"``
beside ``tables/build.py``). A ``deps`` directory covers the files under it, but a stage may not
depend on a package file it does not run (no over-wide directories).

Params: every read of a ``Params`` value, tracked by type from the dataclasses in ``core/params.py``.
A value is typed when it is a function parameter named ``params`` (unannotated) or ``self.params``,
annotated with a params class (``hp: BaselinesParams``), returned by a function annotated to return
one (``params_mod.load(...)``), or assigned to a local name from a typed value (``p = params.pairs``);
``p.alpha`` and ``getattr(p, "alpha")`` read ``pairs.alpha``. A typed section used any other way
(passed on, stored on an object, iterated, ``getattr`` with a computed name) counts as reading the
whole section, unless it is passed to a function of the closure (matched by name) whose parameter
takes it typed (annotated with its class, or named ``params`` for ``Params``), whose body is then
what counts. ``params.py`` is the schema, not a reader. A declared section covers its keys; a
declared param that nothing reads fails too (a typo, or a read that went away).

Escape hatch, for what static analysis cannot see: a comment on the line that does it,
``# dvc-deps: deepimagine.some.module src/deepimagine/some/file.sql`` (extra files or modules) or
``# dvc-params: section.key other.key`` (the reads of that line; ``-`` for none). A ``Params`` object
handed to something the analysis cannot follow fails the test until such a comment says what it reads.
"""
from __future__ import annotations

import ast
import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from deepimagine import cli
from deepimagine.core import params as params_mod
from fixtures.package import PACKAGE, SRC, import_base, module_files

ROOT = Path(__file__).resolve().parents[1]
PRAGMA = re.compile(r"#\s*dvc-(deps|params):\s*([^#]*)")     # a further "# ..." may explain it


# ---------------------------------------------------------------- modules and files


def pragmas(source: str, kind: str) -> dict[int, list[str]]:
    """Line number -> the words of a ``# dvc-<kind>:`` comment on that line."""
    out = {}
    for i, line in enumerate(source.splitlines(), 1):
        m = PRAGMA.search(line)
        if m and m.group(1) == kind:
            out[i] = m.group(2).split()
    return out


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imported_modules(module: str, path: Path, modules: dict[str, Path]) -> tuple[set[str], list[str]]:
    """Modules of the package that ``module`` imports (anywhere in it), and the dynamic imports it
    cannot resolve ("file:line: code")."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    package = _package_of(module, path)
    found, unresolved = set(), []

    def add(name: str) -> None:
        if name in modules:
            found.add(name)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                add(a.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            add(base)
            for a in node.names:
                add(f"{base}.{a.name}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                add(arg.value)
            elif not module.endswith(".cli"):       # cli's dispatch: resolved from cli.STAGES
                unresolved.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    for words in pragmas(source, "deps").values():
        found.update(w for w in words if w in modules)
    unresolved = [u for u in unresolved if int(u.split(":")[1]) not in pragmas(source, "deps")]
    return found, unresolved


def data_files(path: Path) -> set[Path]:
    """Non-Python files beside ``path`` that its code names by a literal string (plus ``# dvc-deps:`` paths)."""
    source = path.read_text(encoding="utf-8")
    beside = {f.name: f for f in path.parent.iterdir() if f.is_file() and f.suffix not in (".py", ".pyc")}
    out = {beside[n.value] for n in ast.walk(ast.parse(source))
           if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in beside}
    for words in pragmas(source, "deps").values():
        out.update(ROOT / w for w in words if "/" in w and (ROOT / w).is_file())
    return out


def import_closure(entry: list[str], modules: dict[str, Path]) -> tuple[set[Path], set[str], list[str]]:
    """(files, modules, unresolved dynamic imports) reached from the ``entry`` modules."""
    seen, todo, unresolved = set(), list(entry), []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]      # parent packages run first
        found, bad = imported_modules(name, modules[name], modules)
        todo += found
        unresolved += bad
    files = {modules[m] for m in seen}
    files |= {d for m in seen for d in data_files(modules[m])}
    return files, seen, unresolved


# ---------------------------------------------------------------- params


def params_schema(root: type = params_mod.Params) -> dict[str, dict[str, str | None]]:
    """Params class name -> {field: the field's params class name, or None for a plain value}."""
    out, todo = {}, [root]
    while todo:
        cls = todo.pop()
        hints = typing.get_type_hints(cls)
        out[cls.__name__] = {}
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            sub = tp.__name__ if dataclasses.is_dataclass(tp) else None
            out[cls.__name__][f.name] = sub
            if sub and sub not in out:
                todo.append(tp)
    return out


@dataclass
class Reads:
    paths: dict[str, str] = field(default_factory=dict)   # "pairs.alpha" / "evaluate" (whole) -> "file:line"
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Typed:
    cls: str        # params class name
    path: str       # dotted path from the Params root ("" for the root)


def _annotation_class(node: ast.AST | None, schema: dict) -> str | None:
    if node is None:
        return None
    text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ast.unparse(node)
    name = text.split("|")[0].strip().replace("Optional[", "").rstrip("]").rpartition(".")[2]
    return name if name in schema else None


def typed_parameters(trees: dict[str, ast.Module], schema: dict) -> dict[str, dict]:
    """Function name -> {position or keyword: params class} for closure functions that take params typed."""
    out: dict[str, dict] = {}
    for tree in trees.values():
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = [*fn.args.posonlyargs, *fn.args.args]
                offset = 1 if args and args[0].arg in ("self", "cls") else 0
                for i, a in enumerate(args + fn.args.kwonlyargs):
                    cls = _annotation_class(a.annotation, schema) or ("Params" if a.arg == "params" else None)
                    if cls:
                        slot = out.setdefault(fn.name, {})
                        if i < len(args):
                            slot[i - offset] = cls
                        slot[a.arg] = cls
    return out


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts) if path.is_relative_to(SRC) else [path.stem]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def typed_returns(trees: dict[Path, ast.Module], schema: dict) -> dict[tuple[str, str], str]:
    """(module, function) -> params class, for module-level functions annotated to return one
    (``params.load(...) -> Params``)."""
    return {(module_name(f), fn.name): cls for f, tree in trees.items() for fn in tree.body
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            and (cls := _annotation_class(fn.returns, schema))}


def import_names(path: Path, tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted name it is bound to by an import (``params_mod`` -> ``deepimagine.core.params``,
    ``load`` -> ``deepimagine.core.params.load``); functions defined in the file map to ``<module>.<name>``."""
    module = module_name(path)
    package = _package_of(module, path)
    out = {fn.name: f"{module}.{fn.name}" for fn in tree.body if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.partition(".")[0]] = a.name if a.asname else a.name.partition(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = import_base(package, node)
            for a in node.names:
                out[a.asname or a.name] = f"{base}.{a.name}"
    return out


def _assignments(node: ast.AST | None) -> list[tuple[ast.AST, ast.AST]]:
    """(target, value) pairs of the assignments in ``node`` (tuple assignments pairwise)."""
    out = []
    for n in ast.walk(node) if node is not None else ():
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Tuple) and isinstance(n.value, ast.Tuple) and len(t.elts) == len(n.value.elts):
                    out += list(zip(t.elts, n.value.elts))
                else:
                    out.append((t, n.value))
        elif isinstance(n, (ast.AnnAssign, ast.NamedExpr)) and n.value is not None:
            out.append((n.target, n.value))
    return out


class _ParamReads(ast.NodeVisitor):
    """Collects the params paths one module reads (see the module docstring for the rules)."""

    def __init__(self, schema: dict, callees: dict, returns: dict, names: dict, source: str, where: str):
        self.schema, self.callees, self.returns, self.names, self.where = schema, callees, returns, names, where
        self.pragmas = pragmas(source, "params")
        self.scopes: list[dict[str, Typed]] = [{}]
        self.reads = Reads()
        self.parents: dict[ast.AST, ast.AST] = {}

    # -- typing of expressions
    def typed(self, node: ast.AST) -> Typed | str | None:
        """A Typed section, a leaf path (str) for a plain value, or None."""
        if isinstance(node, ast.Name):
            for scope in reversed(self.scopes):
                if node.id in scope:
                    return scope[node.id]
            return None
        if isinstance(node, ast.Attribute) and node.attr == "params" and isinstance(node.value, ast.Name) \
                and node.value.id == "self":
            return Typed("Params", "")
        if isinstance(node, ast.Call):
            f, target = node.func, None                               # e.g. params_mod.load(...) -> Params
            if isinstance(f, ast.Name) and f.id in self.names:
                target = self.names[f.id]
            elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in self.names:
                target = f"{self.names[f.value.id]}.{f.attr}"
            cls = self.returns.get(tuple(target.rsplit(".", 1))) if target and "." in target else None
            if cls:
                return Typed(cls, self._path_of(cls))
        attr = None
        if isinstance(node, ast.Attribute):
            base, attr = node.value, node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
            base, attr = node.args[0], node.args[1].value
        if attr is None:
            return None
        t = self.typed(base)
        if not isinstance(t, Typed) or attr not in self.schema[t.cls]:
            return None
        path = f"{t.path}.{attr}" if t.path else attr
        sub = self.schema[t.cls][attr]
        return Typed(sub, path) if sub else path

    # -- scopes: function parameters and aliases
    def visit_FunctionDef(self, fn):
        scope = {}
        for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]:
            cls = _annotation_class(a.annotation, self.schema)
            if cls or (a.arg == "params" and a.annotation is None):    # an unannotated `params` is the Params
                scope[a.arg] = Typed(cls or "Params", self._path_of(cls or "Params"))
        scope["<return>"] = _annotation_class(fn.returns, self.schema)
        self.scopes.append(scope)
        for _ in range(2):                                  # aliases of aliases
            for target, value in _assignments(fn):
                t = self.typed(value)
                if isinstance(t, Typed) and isinstance(target, ast.Name):
                    scope[target.id] = t
        self.generic_visit(fn)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _path_of(self, cls: str) -> str:
        """The path of a params class from the root (classes are used once in the schema)."""
        todo = [("Params", "")]
        while todo:
            c, p = todo.pop()
            if c == cls:
                return p
            todo += [(s, f"{p}.{k}" if p else k) for k, s in self.schema[c].items() if s]
        raise KeyError(cls)

    # -- uses
    def generic_visit(self, node):
        for child in ast.iter_child_nodes(node):
            self.parents[child] = node
        super().generic_visit(node)

    def visit_Name(self, node):
        self._use(node)

    def visit_Attribute(self, node):
        if not self._use(node):
            self.generic_visit(node)

    def visit_Call(self, node):
        if not self._use(node):
            self.generic_visit(node)

    def _use(self, node) -> bool:
        """Record what a maximal typed expression reads; True when ``node`` was typed."""
        t = self.typed(node)
        if t is None:
            return False
        parent = self.parents.get(node)
        line = getattr(node, "lineno", 0)
        here = f"{self.where}:{line}"
        if line in self.pragmas:
            self.reads.paths.update({w: here for w in self.pragmas[line] if w != "-"})
            return True
        if isinstance(t, str):
            if not isinstance(getattr(node, "ctx", None), ast.Store):
                self.reads.paths.setdefault(t, here)
            return True
        if isinstance(getattr(node, "ctx", None), ast.Store):
            return True
        pairs = _assignments(self.parents.get(parent) if isinstance(parent, ast.Tuple) else parent)
        if any(value is node and self._alias_target(target, t) for target, value in pairs):
            return True                                                  # an alias, followed by name
        if isinstance(parent, ast.Return) and self.scopes[-1].get("<return>") == t.cls:
            return True                                                  # returned typed: the caller's use counts
        call = self.parents.get(parent) if isinstance(parent, ast.keyword) else parent
        if isinstance(call, ast.Call) and node is not call.func and self._callee_takes(call, node, t):
            return True
        if t.path:
            self.reads.paths.setdefault(t.path, f"{here} `{ast.unparse(parent or node)}`")    # used whole
        else:
            self.reads.errors.append(f"{here}: `{ast.unparse(parent or node)}` hands the whole "
                                     "Params on where the analysis cannot follow it: add `# dvc-params: "
                                     "<section.key ...>` (or `-`) to that line")
        return True

    @staticmethod
    def _alias_target(target: ast.AST, t: Typed) -> bool:
        """A local name (followed), or ``self.params`` holding the Params; any other store (``self.hp = ...``,
        a dict entry) is not followed, so the value counts as read whole."""
        return isinstance(target, ast.Name) or (
            t.cls == "Params" and isinstance(target, ast.Attribute) and target.attr == "params")

    def _callee_takes(self, call: ast.Call, arg: ast.AST, t: Typed) -> bool:
        f = call.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        slots = self.callees.get(name) or (self.callees.get("__init__") if name and name[:1].isupper() else None)
        if not slots:
            return False
        slot = next((i for i, a in enumerate(call.args) if a is arg), None)
        if slot is None:
            slot = next((k.arg for k in call.keywords if k.value is arg), None)
        return slots.get(slot) == t.cls


def param_reads(files: set[Path], schema: dict) -> Reads:
    """What the modules in ``files`` read from the params (params.py itself is the schema, not a reader)."""
    sources = {f: f.read_text(encoding="utf-8") for f in files if f.suffix == ".py" and f.name != "params.py"}
    trees = {f: ast.parse(s) for f, s in sources.items()}
    callees = typed_parameters(trees, schema)
    returns = typed_returns({f: ast.parse(f.read_text(encoding="utf-8")) for f in files if f.suffix == ".py"}, schema)
    out = Reads()
    for f in sorted(trees):
        v = _ParamReads(schema, callees, returns, import_names(f, trees[f]), sources[f], str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f))
        v.visit(trees[f])
        out.paths = {**v.reads.paths, **out.paths}
        out.errors += v.reads.errors
    return out


# ---------------------------------------------------------------- dvc.yaml


def covered(path: str, declared: list[str], sep: str) -> bool:
    """A file under a declared directory, or a param under a declared section, is covered."""
    return any(path == d or path.startswith(d.rstrip(sep) + sep) for d in declared)


def stage_module(stage: str, cmd: str) -> str:
    words = cmd.split()
    while words and "=" in words[0]:   # leading environment assignments (PYTHONPATH=src)
        words = words[1:]
    if words[:1] == ["deepimagine"]:
        return cli.STAGES[words[1]]
    if words[:2] == ["python", "-m"]:
        return words[2]
    raise AssertionError(f"stage {stage}: cmd {cmd!r} is neither `deepimagine <stage>` nor `python -m <module>`")


def check_stage(name: str, stage: dict, modules: dict[str, Path], schema: dict) -> list[str]:
    """Every problem with one stage's declared deps and params, each with the line to add or remove."""
    entry = [f"{PACKAGE}.cli", stage_module(name, stage["cmd"])]
    files, _, unresolved = import_closure(entry, modules)
    deps = [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]
    params = [p if isinstance(p, str) else next(iter(p)) for p in stage.get("params", [])]
    rel = sorted(f.relative_to(ROOT).as_posix() for f in files)
    problems = [f"stage {name}: cannot resolve the dynamic import {u}: add `# dvc-deps: <module>` to that line"
                for u in unresolved]
    problems += [f"stage {name}: runs {f} but dvc.yaml does not depend on it: add `      - {f}` under "
                 f"stages.{name}.deps" for f in rel if not covered(f, deps, "/")]
    package_dir = (SRC / PACKAGE).relative_to(ROOT).as_posix()
    for d in deps:
        if not covered(d, [package_dir], "/"):
            continue
        extra = sorted(f.relative_to(ROOT).as_posix() for f in (ROOT / d).rglob("*") if f.is_file()
                       and "__pycache__" not in f.parts and f not in files) if (ROOT / d).is_dir() else \
            ([] if (ROOT / d) in files else [d])
        if extra:
            problems.append(f"stage {name}: dependency `{d}` covers {', '.join(extra)}, which the stage does not "
                            f"run: list the files it runs instead (or remove `{d}`)")
    reads = param_reads(files, schema)
    problems += [f"stage {name}: {e}" for e in reads.errors]
    problems += [f"stage {name}: reads params `{p}` ({where}) but dvc.yaml does not declare it: add `      - {p}` "
                 f"under stages.{name}.params" for p, where in sorted(reads.paths.items()) if not covered(p, params, ".")]
    problems += [f"stage {name}: declares param `{p}` that its code never reads: remove it from "
                 f"stages.{name}.params" for p in params
                 if not any(covered(r, [p], ".") or covered(p, [r], ".") for r in reads.paths)]
    return problems


def load_stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


@pytest.fixture(scope="module")
def context():
    return module_files(), params_schema()


@pytest.mark.parametrize("stage", sorted(load_stages()))
def test_dvc_yaml_declares_what_the_stage_runs_and_reads(stage, context):
    modules, schema = context
    problems = check_stage(stage, load_stages()[stage], modules, schema)
    assert not problems, "dvc.yaml is out of date with the code:\n  " + "\n  ".join(problems)


def test_every_cli_stage_is_a_dvc_stage():
    assert set(cli.STAGES) <= set(load_stages()), set(cli.STAGES) - set(load_stages())


def test_stage_commands_run_the_code_of_the_checkout_they_run_in(tmp_path):
    """Each stage runs with ``PYTHONPATH=src``: under ``dvc exp run --temp`` (a copy of the repo in
    a temp dir) the stage must import the copy's ``src/``, not the workspace's that the venv's
    editable install points to (a stage would otherwise run code its dvc.lock does not record)."""
    import subprocess
    import sys

    stages = load_stages()
    assert all(st["cmd"].startswith("PYTHONPATH=src ") for st in stages.values()), \
        {n: st["cmd"] for n, st in stages.items() if not st["cmd"].startswith("PYTHONPATH=src ")}
    pkg = tmp_path / "src" / PACKAGE
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("COPY = True\n")
    prefix = stages["evaluate"]["cmd"].split(" deepimagine ")[0]
    out = subprocess.run(f"{prefix} {sys.executable} -c 'import {PACKAGE}; print({PACKAGE}.__file__)'",
                         shell=True, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()).resolve() == (pkg / "__init__.py").resolve()


# ---------------------------------------------------------------- the analysis itself, on small sources


SCHEMA = {"Params": {"seed": None, "pairs": "PairsParams", "model": "ModelParams"},
          "PairsParams": {"alpha": None, "top_k": None}, "ModelParams": {"dtype": None, "backend": None}}


def _reads(tmp_path: Path, *sources: str) -> Reads:
    files = set()
    for i, s in enumerate(sources):
        (tmp_path / f"m{i}.py").write_text(s)
        files.add(tmp_path / f"m{i}.py")
    return param_reads(files, SCHEMA)


def test_reads_chains_aliases_and_getattr(tmp_path):
    r = _reads(tmp_path, "def run(params):\n"
                         "    p = params.pairs\n"
                         "    q = p\n"
                         "    x = q.alpha + params.seed\n"
                         "    y = getattr(params.model, 'dtype')\n")
    assert set(r.paths) == {"pairs.alpha", "seed", "model.dtype"} and not r.errors


def test_section_passed_on_is_read_whole_unless_the_callee_takes_it_typed(tmp_path):
    r = _reads(tmp_path, "def run(params):\n    f(params.pairs)\n    g(hp=params.model)\n",
               "def g(hp: ModelParams):\n    return hp.backend\n")
    assert set(r.paths) == {"pairs", "model.backend"}


def test_a_section_stored_elsewhere_is_read_whole(tmp_path):
    r = _reads(tmp_path, "class P:\n    def __init__(self, params):\n"
                         "        self.params, self.hp = params, params.pairs\n"
                         "    def f(self):\n        return self.params.seed, self.hp.alpha\n")
    assert set(r.paths) == {"pairs", "seed"} and not r.errors


def test_whole_params_handed_to_the_unknown_needs_a_pragma(tmp_path):
    r = _reads(tmp_path, "def run(params):\n    json.dumps(to_dict(params))\n")
    assert r.errors and "m0.py:2" in r.errors[0] and "# dvc-params:" in r.errors[0]
    r = _reads(tmp_path, "def run(params):\n    json.dumps(to_dict(params))  # dvc-params: -\n"
                         "    x = getattr(params.pairs, name)  # dvc-params: pairs.top_k\n")
    assert set(r.paths) == {"pairs.top_k"} and not r.errors


def test_closure_follows_lazy_relative_and_string_imports(tmp_path):
    pkg = tmp_path / "pk"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("def f():\n    from . import b\n    importlib.import_module('pk.c')\n"
                                      "    return open('q.sql')\n")
    (pkg / "sub" / "b.py").write_text("from ..d import x\n")
    (pkg / "sub" / "q.sql").write_text("select 1")
    for m in ("c", "d", "unused"):
        (pkg / f"{m}.py").write_text("")
    modules = module_files(tmp_path, "pk")
    files, seen, _ = import_closure(["pk.sub.a"], modules)
    assert seen == {"pk", "pk.sub", "pk.sub.a", "pk.sub.b", "pk.c", "pk.d"}
    assert pkg / "sub" / "q.sql" in files and pkg / "unused.py" not in files


def test_coverage_by_directory_and_section():
    assert covered("src/deepimagine/train/sft.py", ["src/deepimagine/train"], "/")
    assert not covered("src/deepimagine/training.py", ["src/deepimagine/train"], "/")
    assert covered("sft.learning_rate", ["sft"], ".") and not covered("sft_x.a", ["sft"], ".")
