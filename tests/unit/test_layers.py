"""The import graph keeps the layers: doors (api, console, cli) reach the system only through
the operations facade and the read model, never the store or a driver; the domain does no I/O;
no module imports another that imports it back; no module is over 500 lines.

Read from the source with ``ast`` (imports inside functions count too), so a new arrow that
breaks a rule fails here, in ``make check``, not in a review.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "ecslite"

# The parts of the system, by module prefix; the composition root (Wiring) may reach anything.
WIRING = (
    "ecslite.bootstrap",
    "ecslite.api.app",
    "ecslite.api.deps",
    "ecslite.__main__",
    "ecslite.demo",
    "ecslite.config",
)
PARTS = {
    "Doors": ("ecslite.api", "ecslite.console", "ecslite.cli"),
    "Operations": ("ecslite.services",),
    "Jobs": ("ecslite.jobs",),
    "Drivers": ("ecslite.drivers", "ecslite.cloudinit", "ecslite.images"),
    "Auth": ("ecslite.auth",),
    "Store": ("ecslite.store",),
    "Domain": ("ecslite.domain", "ecslite.logfmt"),
}
NEVER = {
    ("Doors", "Store"): "doors build commands; reads come from the read model",
    ("Doors", "Drivers"): "hashing and seeds belong to the command's validator",
    ("Domain", "Store"): "the domain does no I/O",
    ("Domain", "Operations"): "the domain knows no use case",
    ("Store", "Operations"): "the store knows no use case",
    ("Drivers", "Store"): "a driver gets what it needs in its call",
    ("Operations", "Doors"): "no use case knows a wire format",
    ("Jobs", "Doors"): "the engine knows no wire format",
}
MAX_LINES = 500


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _part(module: str) -> str | None:
    if any(module == w or module.startswith(w + ".") for w in WIRING):
        return "Wiring"
    for name, prefixes in PARTS.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    return None


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes: list[ast.AST] = list(ast.walk(tree))
    if top_level_only:
        # Module-level imports, those under ``if TYPE_CHECKING:`` included; imports inside a
        # function run late and cannot close a circle at import time.
        nodes = [
            n
            for top in tree.body
            if not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            for n in ast.walk(top)
        ]
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("ecslite"))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.startswith("ecslite")
        ):
            out.add(node.module)
            # ``from ecslite.x import y`` may name the module ecslite.x.y.
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


MODULES = dict(_modules())


def _known(names: set[str]) -> set[str]:
    return {n for n in names if n in MODULES}


@pytest.mark.parametrize("never", sorted(NEVER), ids=lambda n: f"{n[0]}->{n[1]}")
def test_no_forbidden_arrow(never: tuple[str, str]) -> None:
    src, dst = never
    broken = [
        f"{mod} -> {target}"
        for mod, path in MODULES.items()
        if _part(mod) == src
        for target in sorted(_known(_imports(path, top_level_only=False)))
        if _part(target) == dst
    ]
    assert not broken, f"{src} must not import {dst} ({NEVER[never]}): {broken}"


def test_no_import_circle() -> None:
    graph = {m: _known(_imports(p, top_level_only=True)) - {m} for m, p in MODULES.items()}
    # A package's __init__ re-exporting its modules is not a circle of the code.
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    seen: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(m: str) -> None:
        seen[m] = 1
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if seen.get(t) == 1:
                circles.append([*stack[stack.index(t) :], t])
            elif t not in seen:
                visit(t)
        stack.pop()
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m)
    assert not circles, circles


def test_no_module_over_the_size_limit() -> None:
    big = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, big
