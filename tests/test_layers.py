"""The layering of ``portal`` as written in pyproject.toml: it holds on the house, and it can fail.

``lint-imports`` checks the import-linter contracts; a graph built by grimp (the library import-linter
stands on) checks that no two modules import each other, directly or round a loop, counting imports
inside functions. Each bad-import test copies ``portal/`` to a temporary folder, adds one import and
shows that exactly the contracts forbidding it break. No database, no app: these run in seconds.
"""
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
CONTRACT_IDS = {contract["name"]: contract["id"] for contract in CONTRACTS}

# Run the command-line linter exactly as a developer would; a wide console keeps each verdict on one line.
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
# The import graph of the package found first on sys.path (the working folder), as JSON edges.
GRAPH = (
    "import json, grimp; graph = grimp.build_graph('portal', cache_dir=None); "
    "print(json.dumps({m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}))"
)


def _run(code, *args, cwd):
    """Run a Python snippet in a fresh interpreter in ``cwd``, so ``portal`` resolves to the copy there."""
    env = {**os.environ, "COLUMNS": "1000", "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def lint(root):
    """Lint the package under ``root``; return the exit code, each contract's verdict by id, and the output."""
    result = _run(LINT, "--no-cache", "--no-logo", "pyproject.toml", cwd=root)
    verdicts = {}
    for line in result.stdout.splitlines():
        for name, contract_id in CONTRACT_IDS.items():
            for verdict in ("KEPT", "BROKEN"):
                if line.startswith(f"{name} {verdict}"):
                    verdicts[contract_id] = verdict
    return result.returncode, verdicts, result.stdout + result.stderr


def _graph(root):
    """What each module of the package under ``root`` imports from the package, directly."""
    result = _run(GRAPH, cwd=root)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def import_cycles(root):
    """Every group of modules under ``root``/portal that import one another round a loop (Tarjan's SCC)."""
    edges = _graph(root)
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(module):
        """Number ``module``, walk what it imports, and close a group when it is the root of one."""
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in edges.get(module, ()):
            if imported not in edges:
                continue  # outside the package
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1 or module in edges[module]:
                groups.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(groups)


def _not_python(folder, names):
    """What copytree leaves out: compiled files and everything that is not Python source or a folder."""
    return [name for name in names
            if name == "__pycache__" or not (name.endswith(".py") or (Path(folder) / name).is_dir())]


@pytest.fixture
def copy(tmp_path):
    """A copy of the package's Python files and the contracts, to spoil one import at a time."""
    shutil.copytree(ROOT / "portal", tmp_path / "portal", ignore=_not_python)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(root, module_file, statement):
    """Append one import statement to a module of the copy; return the line it starts on."""
    path = root / module_file
    assert path.is_file(), f"{module_file} is not in the package any more; pick another module for this test"
    text = path.read_text(encoding="utf-8").rstrip("\n") + "\n\n"
    path.write_text(text + statement + "\n", encoding="utf-8")
    return text.count("\n") + 1


def test_the_house_keeps_every_contract():
    """``lint-imports`` passes on the package as it is, every contract kept."""
    code, verdicts, output = lint(ROOT)
    assert code == 0, output
    assert verdicts == {contract_id: "KEPT" for contract_id in CONTRACT_IDS.values()}, output


def test_the_house_has_no_import_cycles():
    """No module reaches itself through its imports, counting imports inside functions."""
    assert import_cycles(ROOT) == []


def modules_outside_the_layers(root):
    """Modules of the package under ``root`` that no layer holds and that could slip past the layer rules.

    Only the app factory (``portal``, which registers every area), the migrations (history, held by
    their own contract) and the areas' package ``__init__`` modules that import nothing may stay outside.
    """
    edges = _graph(root)
    layers = next(contract for contract in CONTRACTS if contract["id"] == "layers")["layers"]
    placed = {name.strip().strip("()") for layer in layers for name in layer.replace("|", ":").split(":")}

    def allowed_outside(module):
        """Whether ``module`` may be in no layer."""
        if module == "portal" or module == "portal.migrations" or module.startswith("portal.migrations."):
            return True
        return module.count(".") == 1 and not edges[module]

    return sorted(
        module for module in edges
        if not any(module == name or module.startswith(name + ".") for name in placed) and not allowed_outside(module)
    )


def test_every_module_has_a_layer():
    """Each module is in a layer of pyproject.toml (a new one must be placed there)."""
    assert modules_outside_the_layers(ROOT) == []


def test_a_module_in_no_layer_is_found(copy):
    """A new rules module nobody placed in a layer, and an area ``__init__`` that starts importing, are named."""
    (copy / "portal/refunds/deadlines.py").write_text('"""Deadlines."""\n', encoding="utf-8")
    add_import(copy, "portal/refunds/__init__.py", "from portal.refunds import states")
    assert modules_outside_the_layers(copy) == ["portal.refunds", "portal.refunds.deadlines"]


# One deliberate bad import per contract, with every contract it must break (and no other):
# the module spoilt, the line added, the contracts broken, and the module the report shows it importing.
BAD_IMPORTS = [
    pytest.param("portal/payouts/signature.py", "from flask import current_app", {"rules-no-flask"}, "flask",
                 id="a-rule-imports-flask"),
    # The services import the transition table, so the same import also reaches them.
    pytest.param("portal/refunds/states.py", "import flask_babel", {"rules-no-flask", "services-no-flask"},
                 "flask_babel", id="a-rule-under-the-services-imports-flask"),
    pytest.param("portal/payouts/signature.py", "from portal.shops import service", {"layers"},
                 "portal.shops.service", id="a-rule-imports-a-service"),
    pytest.param("portal/shops/service.py", "from portal.web import htmx", {"layers", "services-no-flask"},
                 "portal.web.htmx", id="a-service-imports-the-web-shell"),
    pytest.param("portal/refunds/service.py", "from flask import session", {"services-no-flask"}, "flask",
                 id="a-service-reads-the-request"),
    pytest.param("portal/refunds/views.py", "from portal.risk import views", {"views-apart"},
                 "portal.risk.views", id="views-import-another-areas-views"),
    pytest.param("portal/web/pages.py", "from portal.shops import models", {"web-no-area"},
                 "portal.shops.models", id="the-web-shell-imports-an-area"),
    pytest.param("portal/core/money.py", "from flask import current_app", {"core-apart"}, "flask",
                 id="the-core-imports-flask"),
    # The core is the lowest layer too, so an area in the core breaks both; and the web shell, which
    # uses the core's clock, would then reach that area through it.
    pytest.param("portal/core/clock.py", "from portal.shops import models", {"core-apart", "layers", "web-no-area"},
                 "portal.shops.models", id="the-core-imports-an-area"),
    pytest.param("portal/migrations/0006_queue_indexes.py", "from portal.refunds import models",
                 {"migrations-frozen"}, "portal.refunds.models", id="a-migration-imports-models"),
    # acyclic_siblings names the package and the import it would remove, not the line.
    pytest.param("portal/refunds/states.py", "from portal.refunds import timing", {"acyclic"}, None,
                 id="two-rules-import-each-other"),
]


@pytest.mark.parametrize(("module_file", "statement", "broken", "imported"), BAD_IMPORTS)
def test_a_bad_import_breaks_exactly_its_contracts(copy, module_file, statement, broken, imported):
    """The linter fails on the added import, under the contracts that forbid it, and keeps the others."""
    line = add_import(copy, module_file, statement)
    code, verdicts, output = lint(copy)
    assert code == 1, output
    assert set(verdicts) == set(CONTRACT_IDS.values()), output
    assert {contract_id for contract_id, verdict in verdicts.items() if verdict == "BROKEN"} == broken, output
    importer = module_file.removesuffix(".py").replace("/", ".")
    if imported is None:
        assert f"No cycles are allowed in {importer.rpartition('.')[0]}." in output, output
    else:
        assert f"{importer} -> {imported} (l.{line})" in output, output


def test_every_contract_is_shown_failing():
    """Each contract in pyproject.toml has a bad import above that breaks it."""
    assert set().union(*(param.values[2] for param in BAD_IMPORTS)) == set(CONTRACT_IDS.values())


def test_a_cycle_across_areas_is_found(copy):
    """Two areas' services importing each other: every contract still holds, only the cycle check sees it."""
    add_import(copy, "portal/deposit/service.py", "from portal.refunds import service")
    code, _, output = lint(copy)
    assert code == 0, output  # why this check exists beside the contracts
    assert ["portal.deposit.service", "portal.refunds.service"] in import_cycles(copy)


def test_a_cycle_inside_an_area_is_found(copy):
    """The same check finds the loop the ``acyclic`` contract reports between two rules modules."""
    add_import(copy, "portal/refunds/states.py", "from portal.refunds import timing")
    assert ["portal.refunds.states", "portal.refunds.timing"] in import_cycles(copy)


def test_a_cycle_through_a_function_level_import_is_found(copy):
    """An import inside a function still closes a loop (the kind that hid loops before the restructure)."""
    add_import(copy, "portal/core/db.py", "def _seed():\n    \"\"\"Seed.\"\"\"\n    from portal.ops import seed")
    assert any({"portal.core.db", "portal.ops.seed"} <= set(group) for group in import_cycles(copy))


def test_a_package_importing_itself_through_its_init_is_a_cycle(copy):
    """A package ``__init__`` importing a module that imports the package back is a loop too."""
    add_import(copy, "portal/refunds/__init__.py", "from portal.refunds import views")
    add_import(copy, "portal/refunds/views.py", "import portal.refunds")
    assert ["portal.refunds", "portal.refunds.views"] in import_cycles(copy)
