"""Fixtures shared by the channel tests: a small real homology index and its run settings."""

import pytest

TINY_INDEX = ["backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"]


@pytest.fixture(scope="session")
def guo_index(guo_slice, tmp_path_factory):
    """An index over the proteins of the Guo slice (plain FASTA headers: accession = id)."""
    from ppi.homologs.build import build_index
    from ppi.homologs.index import index_config

    out = tmp_path_factory.mktemp("homology") / "index"
    build_index([guo_slice[0]], out, index_config([*TINY_INDEX, "shard_size=128"]))
    return out


@pytest.fixture
def homology_run(guo_slice, guo_index, tmp_path, train_args):
    """``ppi train`` arguments for a one-epoch run with the homology channel (K=4)."""

    def make(name: str, *extra: str) -> list[str]:
        fasta, pairs = guo_slice
        return train_args(
            fasta,
            pairs,
            tmp_path,
            "train.epochs=1",
            f"run_name={name}",
            "channels.homology.enabled=true",
            f"channels.homology.index={guo_index}",
            "channels.homology.k=4",
            *extra,
        )

    return make
