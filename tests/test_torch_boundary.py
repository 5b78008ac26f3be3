"""The torch boundary, read from the package's source with ``ast`` (nothing is imported):

* (a) torch and the tools built on it (fvcore, ptflops, thop, torchinfo, safetensors.torch) are
  imported only in ``resnet_inspect/nn/``, ``resnet_inspect/cli/`` and ``resnet_inspect/__init__.py``,
  never in the core, not even inside a function or for type checking;
* (b) the core reaches ``resnet_inspect.nn`` only from inside functions, and only in the modules
  of ``LAZY_NN``: a new one fails here until it is added (and argued for);
* (c) ``resnet_inspect.nn`` never imports the CLI.

Each check also runs on synthetic sources where it must fail (the mutation tests), and a fresh
interpreter imports every core module and finds no torch in ``sys.modules``: what ``summary``'s
speed rests on.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "resnet_inspect"

#: Imported only on the torch side (a name and everything under it).
TORCH_NAMES = ("torch", "fvcore", "ptflops", "thop", "torchinfo", "safetensors.torch")
#: Core modules that import ``resnet_inspect.nn`` (inside a function), and what for.
LAZY_NN: Mapping[str, str] = {
    "resnet_inspect.sources": "tracing the user's module (nn.usercode), only when a SPEC names one",
    "resnet_inspect.inspect_ckpt": "torch.load of a torch.save checkpoint (nn.checkpoint), never for safetensors",
}
#: Modules of the torch side that the CLI imports before torch is needed (to check memory or
#: settings first), so importing them must not load torch either.
NN_IMPORTED_BEFORE_TORCH = ("resnet_inspect.nn", "resnet_inspect.nn.verify", "resnet_inspect.nn.bench")
#: Where importing a module runs the program: left out of the import check.
ENTRY_POINTS = ("resnet_inspect.__main__",)

#: module name -> (its source, whether it is a package's ``__init__``)
Sources = Mapping[str, tuple[str, bool]]


@dataclass(frozen=True)
class Import:
    """One imported module (or ``importlib.import_module("...")`` call) and where it stands."""

    module: str
    line: int
    #: The absolute dotted name imported, then what else it may name: ``from resnet_inspect import
    #: nn`` imports ``resnet_inspect`` and, the names being submodules, ``resnet_inspect.nn``.
    targets: tuple[str, ...]
    lazy: bool  # inside a function: runs when the function is called
    typing_only: bool  # under ``if TYPE_CHECKING:``: never runs

    def reaches(self, names: tuple[str, ...]) -> str | None:
        """The first of ``targets`` that is one of ``names`` or lies under one; None if none does."""
        return next((t for t in self.targets if any(t == n or t.startswith(n + ".") for n in names)), None)

    def describe(self, target: str) -> str:
        where = "inside a function" if self.lazy else "for type checking" if self.typing_only else "at module level"
        return f"{self.module}:{self.line} imports {target} {where}"


def package_sources(package: Path = PACKAGE) -> dict[str, tuple[str, bool]]:
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path.read_text(encoding="utf-8"), is_package)
    return out


def side(module: str) -> str:
    """``nn``, ``cli``, ``init`` (the package's ``__init__``, whose API imports lazily) or ``core``."""
    if module == "resnet_inspect":
        return "init"
    for name in ("nn", "cli"):
        if module == f"resnet_inspect.{name}" or module.startswith(f"resnet_inspect.{name}."):
            return name
    return "core"


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    if not level:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _dynamic_target(node: ast.Call) -> str | None:
    """The module named by ``importlib.import_module("x")``, ``import_module("x")`` or ``__import__("x")``."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name in ("import_module", "__import__") and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
            return first.value
    return None


def imports(module: str, source: str, is_package: bool = False) -> list[Import]:
    """Every import in ``source``, wherever it stands: module level, inside functions (at any
    depth, methods and nested functions too), under ``if TYPE_CHECKING:``."""
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool, typing_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(module, node.lineno, (a.name,), lazy, typing_only) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, is_package, node.level, node.module)
            names = tuple(f"{target}.{a.name}" for a in node.names if a.name != "*")
            if node.module:
                found.append(Import(module, node.lineno, (target, *names), lazy, typing_only))
            else:  # ``from . import nn``: each name is a module of the package
                found.extend(Import(module, node.lineno, (name,), lazy, typing_only) for name in names)
        elif isinstance(node, ast.Call) and (dynamic := _dynamic_target(node)) is not None:
            found.append(Import(module, node.lineno, (dynamic,), lazy, typing_only))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                visit(statement, lazy, True)
            for statement in node.orelse:
                visit(statement, lazy, typing_only)
            return
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner, typing_only)

    visit(ast.parse(source), False, False)
    return found


def _all_imports(sources: Sources) -> Iterator[Import]:
    for module, (source, is_package) in sources.items():
        yield from imports(module, source, is_package)


def _reaching(sources: Sources, sides: tuple[str, ...], names: tuple[str, ...]) -> Iterator[tuple[Import, str]]:
    """The imports of modules on ``sides`` that reach ``names``, with the name each reaches."""
    for i in _all_imports(sources):
        if side(i.module) in sides and (target := i.reaches(names)) is not None:
            yield i, target


NN = ("resnet_inspect.nn",)


def torch_in_core(sources: Sources) -> list[str]:
    """(a) Every import of torch or a tool built on it outside ``nn``, ``cli`` and ``__init__``."""
    return [i.describe(t) for i, t in _reaching(sources, ("core",), TORCH_NAMES)]


def eager_nn_in_core(sources: Sources) -> list[str]:
    """(b) Every import of ``resnet_inspect.nn`` by the core that runs when the module is imported."""
    return [i.describe(t) for i, t in _reaching(sources, ("core",), NN) if not (i.lazy or i.typing_only)]


def lazy_nn_importers(sources: Sources) -> set[str]:
    """(b) The core modules that import ``resnet_inspect.nn`` inside a function."""
    return {i.module for i, _ in _reaching(sources, ("core",), NN) if i.lazy}


def cli_in_nn(sources: Sources) -> list[str]:
    """(c) Every import of ``resnet_inspect.cli`` by the torch side."""
    return [i.describe(t) for i, t in _reaching(sources, ("nn",), ("resnet_inspect.cli",))]


# ---------------------------------------------------------------------------------------- the package


def test_the_walker_reads_the_package() -> None:
    """The checks below would pass on nothing: make sure they see the imports they are about."""
    sources = package_sources()
    assert {"resnet_inspect.counts", "resnet_inspect.sources", "resnet_inspect.nn.trace", "resnet_inspect.cli.model"} <= set(sources)
    seen = {(i.module, i.targets[0]) for i in _all_imports(sources)}
    assert ("resnet_inspect.nn.trace", "torch") in seen
    assert ("resnet_inspect.counts", "resnet_inspect.plan") in seen


def test_the_core_imports_no_torch() -> None:
    assert torch_in_core(package_sources()) == []


def test_the_core_reaches_nn_only_lazily() -> None:
    assert eager_nn_in_core(package_sources()) == []


def test_the_core_modules_that_reach_nn_are_the_listed_ones() -> None:
    assert lazy_nn_importers(package_sources()) == set(LAZY_NN), (
        "a core module imports resnet_inspect.nn (inside a function) that LAZY_NN does not list, or a listed one no longer does")


def test_nn_never_imports_the_cli() -> None:
    assert cli_in_nn(package_sources()) == []


def test_importing_the_core_loads_no_torch() -> None:
    """Every core module, and the torch side's modules the CLI imports before torch is needed,
    imported one after another in a fresh interpreter: none brings in torch or fvcore."""
    modules = [m for m in package_sources() if side(m) == "core" and m not in ENTRY_POINTS]
    modules += NN_IMPORTED_BEFORE_TORCH
    code = (
        "import importlib, json, sys\n"
        f"heavy = {TORCH_NAMES[:-1]!r}\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    importlib.import_module(name)\n"
        "    loaded = [m for m in heavy if m in sys.modules]\n"
        "    if loaded:\n"
        "        sys.exit(f'importing {name} loads {loaded}')\n"
        "print(len(json.loads(sys.argv[1])))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(modules)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == len(modules) > 40


# ---------------------------------------------------------------------------------------- mutations

#: A small package in the shape of the real one, each check's fault planted once.
CLEAN: Mapping[str, tuple[str, bool]] = {
    "resnet_inspect": ("def build():\n    from .nn.builder import build_model\n    return build_model\n", True),
    "resnet_inspect.counts": ("from .plan import Plan\n", False),
    "resnet_inspect.sources": ("def traced():\n    from .nn.usercode import trace_target\n    return trace_target\n", False),
    "resnet_inspect.nn": ("", True),
    "resnet_inspect.nn.builder": ("import torch\nfrom ..spec import ResNetSpec\n", False),
    "resnet_inspect.cli.model": ("import typer\n\ndef build():\n    import torch\n    from ..nn.builder import build_model\n", False),
}


def _with(module: str, source: str, is_package: bool = False) -> dict[str, tuple[str, bool]]:
    return {**CLEAN, module: (source, is_package)}


def test_the_clean_package_passes() -> None:
    assert torch_in_core(CLEAN) == eager_nn_in_core(CLEAN) == cli_in_nn(CLEAN) == []
    assert lazy_nn_importers(CLEAN) == {"resnet_inspect.sources"}


def test_torch_imported_inside_a_core_function_is_found() -> None:
    """(d) The mutation the brief names: ``import torch`` inside a function of a core module."""
    source = "from .plan import Plan\n\n\ndef count(model):\n    import torch\n    return torch.numel(model)\n"
    assert torch_in_core(_with("resnet_inspect.counts", source)) == [
        "resnet_inspect.counts:5 imports torch inside a function"]


def test_every_way_of_importing_a_torch_tool_in_the_core_is_found() -> None:
    source = (
        "import importlib\n"
        "from typing import TYPE_CHECKING\n"
        "import torch.nn as nn\n"
        "from safetensors.torch import save\n"
        "from safetensors import torch as st\n"
        "if TYPE_CHECKING:\n"
        "    from torchinfo import summary\n"
        "class Counter:\n"
        "    def run(self):\n"
        "        def inner():\n"
        "            from fvcore.nn import FlopCountAnalysis\n"
        "        return importlib.import_module('thop')\n"
    )
    found = torch_in_core(_with("resnet_inspect.report.counting", source))
    assert [line.split(" imports ")[1] for line in found] == [
        "torch.nn at module level", "safetensors.torch at module level", "safetensors.torch at module level",
        "torchinfo for type checking", "fvcore.nn inside a function", "thop inside a function"]


def test_torch_is_allowed_on_the_torch_side_and_in_the_cli() -> None:
    assert torch_in_core(_with("resnet_inspect.nn.bench", "import torch\nfrom fvcore.nn import X\n")) == []
    assert torch_in_core(_with("resnet_inspect.cli.bench", "def f():\n    import torch\n")) == []
    # safetensors' pure-Python reader is not torch: only safetensors.torch is refused
    assert torch_in_core(_with("resnet_inspect.inspect_ckpt", "import safetensors\n")) == []


def test_a_module_level_nn_import_in_the_core_is_found() -> None:
    for source in ("from .nn.builder import build_model\n", "from . import nn\n", "import resnet_inspect.nn.trace\n",
                   "from resnet_inspect.nn import verify\n"):
        assert eager_nn_in_core(_with("resnet_inspect.counts", source)) != [], source
    found = eager_nn_in_core(_with("resnet_inspect.report.bench", "from ..nn.bench import run_bench\n"))
    assert found == ["resnet_inspect.report.bench:1 imports resnet_inspect.nn.bench at module level"]


def test_a_type_checking_nn_import_in_the_core_is_no_eager_import() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..nn.verify import VerifyReport\n"
    assert eager_nn_in_core(_with("resnet_inspect.report.verify", source)) == []


def test_a_new_lazy_nn_import_in_the_core_is_found() -> None:
    source = "def measure(spec):\n    from .nn.memory import measure_spec\n    return measure_spec(spec)\n"
    assert lazy_nn_importers(_with("resnet_inspect.memory", source)) == {"resnet_inspect.sources", "resnet_inspect.memory"}


def test_nn_importing_the_cli_is_found() -> None:
    for source in ("from ..cli.progress import progress\n", "def f():\n    from resnet_inspect.cli import app\n"):
        assert cli_in_nn(_with("resnet_inspect.nn.bench", source)) != [], source
    assert cli_in_nn(_with("resnet_inspect.nn", "from ..cli import app\n", is_package=True)) == [
        "resnet_inspect.nn:1 imports resnet_inspect.cli at module level"]
