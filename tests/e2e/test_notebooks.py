"""Both notebooks execute end to end on the small grid (nbclient, the venv's kernel), without
writing their outputs back: the files stay output-free as stored in git."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

from sandbox.notebooks import FOLDER, NOTEBOOKS, execute


@pytest.fixture(scope="module")
def kernel() -> str:
    """The ``python3`` kernelspec, installed for this interpreter if it cannot be found."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        install(prefix=sys.prefix)
    return "python3"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_the_small_grid(name: str, kernel: str):
    path: Path = FOLDER / name
    stored = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in stored.cells if c.cell_type == "code"), \
        "store notebooks without outputs (sandbox notebooks --clear)"
    assert execute(path, grid="small", write=False, kernel_name=kernel, timeout=600) < 300


def test_the_routing_notebook_states_its_findings_from_computed_values():
    source = "\n".join(c.source for c in nbformat.read(FOLDER / NOTEBOOKS[0], as_version=4).cells)
    assert "headline_nonstationary(df)" in source and "headline_stationary(df)" in source
    assert "rank(df" in source and "plot_metric" in source
