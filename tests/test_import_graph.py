"""The package's import graph has no cycles, counting imports inside functions (which hide a cycle at import
time but still tie the modules together), and keeps the layering of the design: envs below agents below
evaluation, models below planning."""

from __future__ import annotations

import ast
from pathlib import Path

import vjepa_bench

ROOT = Path(vjepa_bench.__file__).parent
PACKAGE_DIRS = {"vjepa_bench": ROOT, "vjepa_bench.envs": ROOT.parent / "envs",
                "vjepa_bench.agents": ROOT.parent / "agents", "vjepa_bench.leaderboard": ROOT.parent / "leaderboard"}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, folder in PACKAGE_DIRS.items():
        if not folder.is_dir():
            folder = Path(__import__(package, fromlist=["_"]).__file__).parent
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found.setdefault(name, path)
    return found


def _canonical(name: str) -> str:
    return "vjepa_bench." + name if name.split(".")[0] in ("envs", "agents", "leaderboard") else name


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [_canonical(a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _canonical(node.module or "")
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([node.module] if node.module else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle between modules (packages' ``__init__`` re-exports count as the package importing its parts)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):  # a package importing its own submodules is not a cycle
                continue
            if state.get(nxt) == 1 and not node.startswith(nxt + "."):
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_there_is_no_import_cycle_even_through_function_level_imports():
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_planted_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


LAYERS = [  # a package may import only packages of lower layers (docs: the import direction in the README layout)
    ["vjepa_bench.errors", "vjepa_bench.fileio", "vjepa_bench.layout", "vjepa_bench.goal_schedule",
     "vjepa_bench.devices"],
    ["vjepa_bench.models", "vjepa_bench.data"],
    ["vjepa_bench.planning", "vjepa_bench.envs"],
    ["vjepa_bench.agents"],
    ["vjepa_bench.evaluation", "vjepa_bench.collection", "vjepa_bench.training", "vjepa_bench.video",
     "vjepa_bench.leaderboard", "vjepa_bench.bench", "vjepa_bench.schema"],
]


def _layer(module: str) -> int | None:
    for level, packages in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in packages):
            return level
    return None


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_packages_import_only_lower_layers():
    wrong = sorted(f"{m} -> {t}" for m, targets in _graph().items() for t in targets
                   if _layer(m) is not None and _layer(t) is not None and _layer(t) > _layer(m))
    assert not wrong, wrong


def test_there_is_no_cycle_between_packages():
    packages: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        packages.setdefault(_package(module), set()).update(
            _package(t) for t in targets if _package(t) != _package(module) and _package(t) != "vjepa_bench")
    cycle = _cycle(packages)
    assert cycle is None, " -> ".join(cycle or [])
