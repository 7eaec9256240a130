"""``bot.nlu`` understands messages and never touches the database.

No module of ``bot/nlu`` may reach a database library or a bot module that uses one,
directly or through other bot modules, at import time or inside a function (lazy
imports count; so do imports made only for type checking: the types would tie the
package to the database all the same). Checked twice: statically, following every
``bot.*`` import from the source, and by importing every module of the package in a
fresh interpreter and looking at what got loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_HOME

NLU = PROJECT_HOME / "bot" / "nlu"
# Libraries that talk to a database, and the bot modules that hold its rows.
DATABASE_PACKAGES = frozenset({"sqlmodel", "sqlalchemy", "alembic", "psycopg", "sqlite3"})
DATABASE_MODULES = frozenset({"bot.db", "bot.models", "bot.outbox", "bot.migrations"})


def nlu_modules() -> list[str]:
    return ["bot.nlu"] + [f"bot.nlu.{path.stem}" for path in sorted(NLU.glob("[!_]*.py"))]


def source_of(module: str, root: Path = PROJECT_HOME) -> Path | None:
    """The file of a ``bot`` module under ``root``, or None for a name that is no module."""
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def with_packages(module: str) -> list[str]:
    """Importing ``a.b.c`` runs ``a`` and ``a.b`` too."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def imported_by(module: str, root: Path) -> set[str]:
    """Every module ``module``'s source imports, anywhere in the file."""
    path = source_of(module, root)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.update(with_packages(alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            found.update(with_packages(origin))
            # ``from bot.nlu import langid_model`` imports a module, not a name.
            found.update(
                f"{origin}.{alias.name}"
                for alias in node.names
                if source_of(f"{origin}.{alias.name}", root) is not None
            )
    return found


def database_reached_from(start: str, root: Path = PROJECT_HOME) -> list[str]:
    """Import chains from ``start`` to the database (empty: none)."""
    chains: list[str] = []
    parents: dict[str, str | None] = {name: None for name in with_packages(start)}
    pending = list(parents)
    while pending:
        module = pending.pop()
        for name in sorted(imported_by(module, root)):
            is_bot = name == "bot" or name.startswith("bot.")
            if name.split(".")[0] in DATABASE_PACKAGES or name in DATABASE_MODULES:
                chain = [name, module]
                while (parent := parents.get(chain[-1])) is not None:
                    chain.append(parent)
                chains.append(" <- ".join(chain))
            elif is_bot and name not in parents and source_of(name, root) is not None:
                parents[name] = module
                pending.append(name)
    return chains


@pytest.mark.parametrize("module", nlu_modules())
def test_no_nlu_module_imports_the_database_even_indirectly(module: str) -> None:
    assert database_reached_from(module) == []


def test_the_check_follows_lazy_imports_through_other_bot_modules(tmp_path: Path) -> None:
    files = {
        "bot/__init__.py": "",
        "bot/nlu/__init__.py": "",
        "bot/nlu/clean.py": "import re\nfrom bot.nlu import helper\n",
        "bot/nlu/helper.py": "def f():\n    from bot.records import save\n",
        "bot/records.py": "from bot.models import Contact\n",
        "bot/models.py": "import sqlmodel\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert database_reached_from("bot.nlu.clean", tmp_path) == [
        "bot.models <- bot.records <- bot.nlu.helper <- bot.nlu.clean"
    ]


def test_importing_all_of_nlu_loads_no_database_library() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {nlu_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_HOME,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "bot.nlu.matcher" in loaded
    reached = [
        name
        for name in loaded
        if name.split(".")[0] in DATABASE_PACKAGES
        or any(name == bad or name.startswith(bad + ".") for bad in DATABASE_MODULES)
    ]
    assert reached == []
