"""The README's architecture table, held to the code: every dashboard module is in it, may import
only the modules its row names (all of them above it: no cycle), and test modules share helpers
through conftest and helper modules, never by importing each other. Read with `ast`: nothing is
imported or run."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "dashboard"
ANY = "any module"
ABOVE = "everything above"


def table() -> list[tuple[list[str], set[str] | str]]:
    """The rows of the README's module table: (units, the units they may import, or ANY/ABOVE)."""
    rows = []
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or "`dashboard/" not in cells[0]:
            continue
        units = [unit_of(path) for path in re.findall(r"`dashboard/([^`]+)`", cells[0])]
        may = cells[2]
        allowed = may if may in (ANY, ABOVE) else set(re.findall(r"`([a-z_]+)`", may))
        rows.append((units, allowed))
    return rows


def unit_of(path: str) -> str:
    """`relay.py` -> relay, `sandbox/` or `sandbox/views.py` -> sandbox."""
    return path.split("/")[0].removesuffix(".py")


def dashboard_imports(source: Path) -> set[str]:
    """The dashboard units a file imports, anywhere in it (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "dashboard":
                found |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("dashboard.")}
    return found


def units_in_code() -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for source in PACKAGE.rglob("*.py"):
        relative = source.relative_to(PACKAGE)
        if "migrations" in relative.parts or relative == Path("__init__.py"):
            continue
        files.setdefault(unit_of(relative.as_posix()), []).append(source)
    return files


def test_every_dashboard_module_is_in_the_table():
    listed = {unit for units, _ in table() for unit in units}
    missing = sorted(set(units_in_code()) - listed)
    assert not missing, f"add a row for {missing} to the README's module table (what it does, what it may import)"


def test_the_table_points_only_upwards():
    above: set[str] = set()
    for units, allowed in table():
        if isinstance(allowed, set):
            assert allowed <= above, f"{units} may import {sorted(allowed - above)}, which are not above it"
        above |= set(units)


def test_every_module_imports_only_what_its_row_allows():
    above: set[str] = set()
    files = units_in_code()
    wrong = []
    for units, allowed in table():
        for unit in units:
            may = None if allowed == ANY else set(above) if allowed == ABOVE else allowed
            for source in files.get(unit, []):
                imported = dashboard_imports(source) - {unit}
                if may is not None and not imported <= may:
                    wrong.append(f"{source.relative_to(ROOT)} imports {sorted(imported - may)}")
        above |= set(units)
    assert not wrong, "imports the README's module table does not allow: " + "; ".join(wrong)


def test_test_modules_never_import_each_other():
    tests = ROOT / "tests"
    wrong = []
    for source in tests.rglob("test_*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and re.search(r"(^|\.)test_\w+$", node.module):
                wrong.append(f"{source.relative_to(ROOT)} imports {node.module}")
    assert not wrong, "share helpers through conftest.py fixtures or a helper module instead: " + "; ".join(wrong)
