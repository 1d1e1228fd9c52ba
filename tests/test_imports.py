"""No import cycle: every dashboard module imports first, alone, in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules() -> list[str]:
    names = []
    for source in sorted((ROOT / "dashboard").rglob("*.py")):
        relative = source.relative_to(ROOT).with_suffix("")
        if "migrations" not in relative.parts and relative.name != "__init__":
            names.append(".".join(relative.parts))
    return names


def test_every_module_can_be_imported_first():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "DASHBOARD_SANDBOX": "1"}
    started = {
        name: subprocess.Popen(
            [sys.executable, "-c", f"import django; django.setup(); import {name}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in modules()
    }
    failed = {name: process.communicate(timeout=120)[0] for name, process in started.items()}
    failed = {name: output[-600:] for name, output in failed.items() if started[name].returncode}
    assert len(started) > 20
    assert not failed, "\n\n".join(f"{name}:\n{output}" for name, output in failed.items())
