"""Execute the notebooks in place with nbclient (no Jupyter install needed).

``sandbox notebooks [--grid full]`` or ``python -m sandbox.notebooks [small|full]``. The
grid size reaches the kernel through ``SANDBOX_GRID``; plots use matplotlib's inline
backend (Agg rendering to PNG outputs, no display needed).
Notebooks are kept in git without outputs: ``--clear`` strips them again.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS: tuple[str, ...] = ("routing_comparison.ipynb", "failure_scenarios.ipynb")


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute(path: Path, *, grid: str = "small", timeout: int = 3600, write: bool = True,
            kernel_name: str = "python3") -> float:
    """Run every cell of ``path`` (in its folder) with ``SANDBOX_GRID=grid``; save it with its
    outputs when ``write``. Returns the seconds it took; a failing cell raises."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    with _environment(SANDBOX_GRID=grid):
        NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - started
    if write:
        nbformat.write(nb, path)
    return seconds


def clear(path: Path) -> None:
    """Strip outputs and execution counts (how notebooks are stored in git)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    grid = args[0] if args else "small"
    for name in NOTEBOOKS:
        print(f"{name}: {execute(FOLDER / name, grid=grid):.1f} s ({grid} grid)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
