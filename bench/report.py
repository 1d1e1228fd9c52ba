"""Tables for the terminal and for bench/RESULTS.md, and what machine produced them."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = ("Django", "gunicorn", "requests", "solders", "django-htmx", "whitenoise", "psycopg", "redis")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def met(ok: bool | None) -> str:
    if ok is None:
        return "—"
    return "met" if ok else "MISSED"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([format_cell(c) for c in cells])

    def text(self) -> str:
        cells = [self.columns, *self.rows]
        widths = [max(len(str(row[i])) for row in cells) for i in range(len(self.columns))]
        line = "  ".join("-" * w for w in widths)
        out = [self.title, line]
        out.append("  ".join(str(c).ljust(w) for c, w in zip(self.columns, widths, strict=True)))
        out.append(line)
        out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in self.rows]
        out += [f"  * {note}" for note in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        out = [f"### {self.title}", ""]
        out.append("| " + " | ".join(self.columns) + " |")
        out.append("|" + "|".join("---" for _ in self.columns) + "|")
        out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {note}" for note in self.notes]
        return "\n".join(out)


def format_cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        return f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def machine() -> list[tuple[str, str]]:
    """CPU model, cores, RAM (from /proc), OS, Python and package versions."""
    cpu, cores, ram = "unknown", os.cpu_count() or 0, "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    versions = []
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{name} {metadata.version(name)}")
    return [
        ("CPU", f"{cpu}, {cores} cores available"),
        ("RAM", ram),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("Packages", ", ".join(versions)),
        ("Load average (1 / 5 / 15 min, at the end)", load_average()),
        ("Date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("Command", "make bench  (= .venv/bin/python -m bench)"),
    ]


def load_average() -> str:
    """The machine's load when the run ended: other work on its cores skews every time here."""
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def results_markdown(tables: list[Table], setup: list[str], skipped: list[str], seconds: float) -> str:
    out = ["# Benchmark results", "", "Written by `make bench` (bench/); do not edit by hand.", ""]
    out += [f"- **{name}:** {value}" for name, value in machine()]
    out.append(f"- **Run time:** {seconds:.0f} s")
    out += ["", "## Set-up", ""]
    out += [f"- {line}" for line in setup]
    for table in tables:
        out += ["", table.markdown()]
    if skipped:
        out += ["", "## Skipped", ""]
        out += [f"- {line}" for line in skipped]
    return "\n".join(out) + "\n"
