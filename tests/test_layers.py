"""The layer order of ARCHITECTURE.md, enforced: a module imports only from its layer or below.

Parsing imports (rather than importing modules) keeps this test fast and catches imports
inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module belongs to the longest prefix that matches it.
LAYERS = [
    ("search_workers.go", 1),
    ("search_workers.search", 2),
    ("search_workers.evaluators", 3),
    ("models", 3),
    ("search_workers.engines", 4),
    ("search_workers.tasks", 5),
    ("search_workers", 5),
    ("arena", 6),
]

# Packages that must stay pure functions whatever their layer: statistics over results only.
PURE_PACKAGES = {
    "arena.ratings": ("search_workers", "models", "arena.", "torch", "sqlalchemy", "psycopg", "celery", "fastapi"),
}

# Heavy or service libraries each layer must not touch (the rules and search stay pure).
FORBIDDEN_THIRD_PARTY = {
    1: {"torch", "grpc", "tritonclient", "celery", "sqlalchemy", "fastapi", "psycopg", "redis"},
    2: {"torch", "grpc", "tritonclient", "celery", "sqlalchemy", "fastapi", "psycopg", "redis"},
}


def layer_of(module: str) -> int | None:
    best = None
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    return None if best is None else best[1]


def project_modules() -> dict[str, Path]:
    modules = {}
    for top in ("search_workers", "models", "arena"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_modules(module: str, path: Path) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((name, node.lineno))
    return found


MODULES = project_modules()


def test_project_has_modules_in_every_present_layer() -> None:
    assert "search_workers.go.state" in MODULES
    assert "arena.cli" in MODULES


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_respect_layer_order(module: str) -> None:
    own = layer_of(module)
    assert own is not None, f"{module} is in no layer; add it to LAYERS"
    for name, line in imported_modules(module, MODULES[module]):
        target = layer_of(name)
        where = f"{MODULES[module].relative_to(ROOT)}:{line}"
        if target is not None:
            assert target <= own, f"{where}: layer {own} module {module} imports {name} from layer {target}"
        top = name.split(".")[0]
        assert top not in FORBIDDEN_THIRD_PARTY.get(own, set()), f"{where}: {module} must not import {top}"
        for package, banned in PURE_PACKAGES.items():
            if module == package or module.startswith(package + "."):
                inside = name == package or name.startswith(package + ".")
                assert inside or not any(name == b.rstrip(".") or name.startswith(b if b.endswith(".") else b + ".")
                                         or name == b for b in banned), \
                    f"{where}: {package} is pure statistics and must not import {name}"
