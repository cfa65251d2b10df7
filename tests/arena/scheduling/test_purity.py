"""arena.scheduling is pure planning: it never touches the database, the queue or the web layer."""

from __future__ import annotations

import pytest

from tests.test_layers import MODULES, imported_modules

SERVICE_LIBRARIES = ("arena.db", "arena.serving", "sqlalchemy", "psycopg", "celery", "redis", "fastapi", "torch")
SCHEDULING = sorted(m for m in MODULES if m == "arena.scheduling" or m.startswith("arena.scheduling."))


@pytest.mark.parametrize("module", SCHEDULING)
def test_scheduling_imports_no_service_layer(module: str) -> None:
    for name, line in imported_modules(module, MODULES[module]):
        assert not any(name == lib or name.startswith(lib + ".") for lib in SERVICE_LIBRARIES), \
            f"{module}:{line} imports {name}"
