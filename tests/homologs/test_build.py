"""Index builds on a real slice of the reviewed yeast proteome: search, resume, shards, checks."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ppi.data.examples import resolve
from ppi.data.fasta import read_fasta, write_fasta
from ppi.errors import InputError
from ppi.homologs.build import build_index, shard_path
from ppi.homologs.index import MANIFEST, HomologyIndex, PooledEmbedder, index_config

TINY_BACKBONE = ["backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"]


@pytest.fixture(scope="module")
def yeast_slice(tmp_path_factory):
    """The first 60 reviewed yeast proteins shorter than 300 residues (UniProt FASTA headers)."""
    from ppi.data.uniprot_dump import read_dump

    out = tmp_path_factory.mktemp("yeast") / "slice.fasta"
    src = resolve("example:yeast_swissprot/uniprot_sprot_yeast.fasta.gz")
    records, lines = 0, []
    for entry in read_dump(src):
        if len(entry.sequence) < 300:
            header = f"sp|{entry.accession}|{entry.entry_name} x OS={entry.organism} OX=559292"
            lines += [f">{header}", entry.sequence]
            records += 1
        if records == 60:
            break
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """A cache per test, so what one test embedded is not reused by the next."""
    monkeypatch.setenv("PPI_CACHE", str(tmp_path / "cache"))


def _config(*extra):
    return index_config([*TINY_BACKBONE, "shard_size=16", *extra])


def test_build_and_search_finds_each_protein_first(yeast_slice, tmp_path):
    manifest = build_index([yeast_slice], tmp_path / "idx", _config())
    assert manifest["count"] == 60 and manifest["index_type"] == "flat" and manifest["dim"] == 16
    assert not list((tmp_path / "idx").glob(".build-*")), "shards are removed once assembled"
    assert manifest["backbone"]["name"] == "scratch" and manifest["pooling"] == "mean"
    assert manifest["backbone_identity"].startswith("scratch:")
    assert set(manifest["files"]) == {"index.faiss", "metadata.parquet", "backbone.safetensors"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    index = HomologyIndex.open(tmp_path / "idx")
    seqs = read_fasta(yeast_slice)
    sims, rows = index.search(list(seqs.values())[:10], 3)
    assert list(index.metadata.accession.iloc[rows[:, 0]]) == list(seqs)[:10]
    assert np.allclose(sims[:, 0], 1.0, atol=1e-4) and (sims[:, 1] < sims[:, 0]).all()
    assert set(index.metadata.columns) >= {"accession", "entry_name", "organism", "seq_hash"}
    assert index.metadata.organism.iloc[0].startswith("Saccharomyces cerevisiae")


def test_a_killed_build_resumes_from_its_finished_shards(yeast_slice, tmp_path, monkeypatch):
    calls = []
    original = PooledEmbedder._compute

    def dying(self, batch):
        if sum(calls) >= 32:
            raise KeyboardInterrupt  # the build is killed as it starts shard 2
        calls.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(PooledEmbedder, "_compute", dying)
    with pytest.raises(KeyboardInterrupt):
        build_index([yeast_slice], tmp_path / "idx", _config("batch_tokens=2048"))
    assert not (tmp_path / "idx" / MANIFEST).exists(), "an unfinished build must not look finished"
    with pytest.raises(InputError, match="not a finished index"):
        HomologyIndex.open(tmp_path / "idx")
    (work,) = (tmp_path / "idx").glob(".build-*")
    assert sorted(p.name for p in work.glob("*.npy")) == ["shard_00000.npy", "shard_00001.npy"]

    counted = []
    monkeypatch.setattr(
        PooledEmbedder, "_compute", lambda self, b: counted.append(len(b)) or original(self, b)
    )
    manifest = build_index([yeast_slice], tmp_path / "idx", _config("batch_tokens=2048"))
    assert manifest["embed_stats"]["shards_reused"] == 2
    assert manifest["embed_stats"]["shards_embedded"] == 2
    assert sum(counted) == 60 - 32, "only the sequences of the unfinished shards are embedded"
    # a third run finds the finished index and does nothing
    counted.clear()
    assert build_index([yeast_slice], tmp_path / "idx", _config())["count"] == 60
    assert counted == []


def test_the_shards_of_a_build_with_other_settings_go_when_one_finishes(
    yeast_slice, tmp_path, monkeypatch
):
    # they used to stay beside the finished index for good
    original = PooledEmbedder._compute
    calls = []

    def dying(self, batch):
        if calls:
            raise KeyboardInterrupt
        calls.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(PooledEmbedder, "_compute", dying)
    with pytest.raises(KeyboardInterrupt):
        build_index([yeast_slice], tmp_path / "idx", _config("batch_tokens=512"))
    assert len(list((tmp_path / "idx").glob(".build-*"))) == 1
    monkeypatch.setattr(PooledEmbedder, "_compute", original)
    manifest = build_index([yeast_slice], tmp_path / "idx", _config("pooling=max"))
    assert manifest["embed_stats"]["shards_reused"] == 0 and manifest["count"] == 60
    assert not list((tmp_path / "idx").glob(".build-*"))


@dataclass
class FakeState:
    """What build_index asks of accelerate's PartialState, for one rank of several."""

    process_index: int
    num_processes: int
    device: str = "cpu"

    @property
    def is_main_process(self):
        return self.process_index == 0

    def wait_for_everyone(self):
        pass


def test_each_process_embeds_its_own_shards(yeast_slice, tmp_path):
    out = tmp_path / "idx"
    config = _config()
    assert build_index([yeast_slice], out, config, FakeState(1, 2)) is None
    (work,) = out.glob(".build-*")
    assert sorted(p.name for p in work.glob("*.npy")) == ["shard_00001.npy", "shard_00003.npy"]
    manifest = build_index([yeast_slice], out, config, FakeState(0, 2))
    assert manifest["embed_stats"] == {
        "shards_reused": 0,
        "shards_embedded": 2,
        "sequences_embedded": 32,
    }
    single = build_index([yeast_slice], tmp_path / "one", config)
    a, b = HomologyIndex.open(out), HomologyIndex.open(tmp_path / "one")
    assert (a.metadata.accession == b.metadata.accession).all()
    assert np.allclose(a.vectors(np.arange(60)), b.vectors(np.arange(60)))
    assert single["count"] == manifest["count"] == 60


def test_ivf_index_from_shards(yeast_slice, tmp_path):
    manifest = build_index([yeast_slice], tmp_path / "idx", _config("faiss.type=ivf-flat"))
    assert manifest["index_type"] == "ivf-flat" and manifest["search"]["nprobe"] >= 1
    index = HomologyIndex.open(tmp_path / "idx")
    assert index.vectors(np.array([3])).shape == (1, 16)


def _built(yeast_slice, tmp_path) -> Path:
    build_index([yeast_slice], tmp_path / "idx", _config())
    return tmp_path / "idx"


def test_open_refuses_a_changed_index_and_another_backbone(yeast_slice, tmp_path):
    out = _built(yeast_slice, tmp_path)
    other = index_config(["backbone.dim=32", "backbone.layers=1", "backbone.heads=2"]).backbone
    with pytest.raises(InputError, match="built with backbone .*dim=16.*not .*dim=32"):
        HomologyIndex.open(out, other)
    (out / "metadata.parquet").write_bytes(b"changed")
    with pytest.raises(InputError, match="does not match manifest.json"):
        HomologyIndex.open(out)
    (out / MANIFEST).unlink()
    with pytest.raises(InputError, match="no manifest.json"):
        HomologyIndex.open(out)


def test_identical_sequences_share_a_hash(tmp_path):
    from ppi.homologs.index import seq_hash

    write_fasta({"a": "MKV", "b": "MKV"}, tmp_path / "x.fasta")
    assert seq_hash("MKV") == seq_hash("MKV") != seq_hash("MKW")
    assert shard_path(tmp_path, 12, "npy").name == "shard_00012.npy"
