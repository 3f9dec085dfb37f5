#!/usr/bin/env python3
"""One-file bootstrap so a fresh machine needs nothing but Python 3.11+.

    python3 dev.py run    # set up .venv, run the main job, write a report under reports/
    python3 dev.py test   # set up .venv, run the whole test suite (extra args go to pytest)
    python3 dev.py lint   # ruff, then mypy

The virtualenv is rebuilt only when pyproject.toml changes (a hash stamp in .venv).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"
MAIN_JOB = ["sandbox", "run", "scenarios/baseline.yaml", "--out", "reports/baseline"]


def ensure_venv(extras: str = "dev") -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before the venv exists
        sys.exit(f"Python 3.11+ is required, this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print(f"installing the project with [{extras}] into .venv ...", flush=True)
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f".[{extras}]"], check=True, cwd=ROOT)
    STAMP.write_text(wanted)


def run(argv: list[str]) -> int:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.call(argv, cwd=ROOT, env=env)


def main() -> int:
    command, *rest = sys.argv[1:] or ["run"]
    ensure_venv()
    if command == "run":
        return run([*MAIN_JOB, *rest])
    if command == "test":
        return run([str(BIN / "python"), "-m", "pytest", *rest])
    if command == "lint":
        return run([str(BIN / "ruff"), "check", ".", *rest]) or run([str(BIN / "mypy")])
    sys.exit(f"unknown command {command!r}: use run, test or lint")


if __name__ == "__main__":
    sys.exit(main())
