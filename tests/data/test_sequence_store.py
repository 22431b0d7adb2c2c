"""The memory-mapped sequence store of ``ppi pretrain``."""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pytest

from ppi.data import sequence_store
from ppi.data.sequence_store import MANIFEST, SequenceStore, open_store
from ppi.errors import InputError
from ppi.utils.cache import digest


def fasta(path, records):
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in records))
    return str(path)


RECORDS = [
    ("P1", "MKTAYIAKQR"),
    ("P2", "MWWC"),
    ("P3", "MKTAYIAKQR"),  # P1's sequence again: kept once, as P1
    ("P4", "MSTNPKPQRKTKRNTNRRPQDVKFPGG"),
]


def test_sequences_are_kept_once_in_dump_order_and_read_back(tmp_path):
    store = open_store([fasta(tmp_path / "a.fasta", RECORDS)], tmp_path / "store")
    assert len(store) == 3 and store.accessions(range(3)) == ["P1", "P2", "P4"]
    assert store.sequences(range(3)) == [RECORDS[0][1], RECORDS[1][1], RECORDS[3][1]]
    assert store.window(2, 5, 4) == "KPQR" and store.window(1, 2, 10) == "WC"
    assert store.named([1]) == {"P2": "MWWC"}
    assert store.indices(["P4", "P1"], "here").tolist() == [2, 0]
    with pytest.raises(InputError, match="here: names P3, which the dumps lack"):
        store.indices(["P3"], "here")
    with pytest.raises(InputError, match="names P4444, which"):  # longer than any stored
        store.indices(["P4444"], "here")
    which = np.array([2, 0])
    counts = store.counts(which)
    assert {chr(b): int(n) for b, n in enumerate(counts) if n} == Counter(
        RECORDS[3][1] + RECORDS[0][1]
    )
    assert store.digest("t", which) == digest("t", "P4\nP1")


def test_counts_read_runs_of_neighbours_in_chunks_and_skip_the_rest(tmp_path, monkeypatch):
    monkeypatch.setattr(sequence_store, "CHUNK_RESIDUES", 5)  # every sequence a chunk or more
    store = open_store([fasta(tmp_path / "a.fasta", RECORDS)], tmp_path / "store")
    # P1 and P2 lie back to back; P3's residues (a repeat, dropped) lie between P2 and P4
    for which in ([0, 1, 2], [2, 0], [1, 2], [0, 2], [1], [1, 1], []):
        every = "".join(store.sequences(which))
        counts = store.counts(np.array(which, dtype=np.int64))
        assert {chr(b): int(n) for b, n in enumerate(counts) if n} == Counter(every), which


def test_a_current_store_is_reused_and_a_changed_dump_rebuilds_it(tmp_path):
    dump = fasta(tmp_path / "a.fasta", RECORDS)
    open_store([dump], tmp_path / "store")
    first = os.stat(tmp_path / "store" / "residues.bin").st_ino
    open_store([dump], tmp_path / "store")
    assert os.stat(tmp_path / "store" / "residues.bin").st_ino == first
    fasta(tmp_path / "a.fasta", [*RECORDS, ("P5", "MAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")])
    assert len(open_store([dump], tmp_path / "store")) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.fasta", "store"]  # nothing left over


def test_repeats_are_compared_in_full_not_by_hash(tmp_path, monkeypatch):
    """With every hash the same, only true repeats are dropped."""

    class Same:
        def __init__(self, *args, **kwargs):
            pass

        def digest(self):
            return bytes(8)

    monkeypatch.setattr(sequence_store.hashlib, "blake2b", Same)
    store = open_store([fasta(tmp_path / "a.fasta", RECORDS)], tmp_path / "store")
    assert store.accessions(range(len(store))) == ["P1", "P2", "P4"]
    assert hashlib.blake2b is Same  # the patch reached the store's hashing


def test_bad_input_leaves_no_store(tmp_path):
    one = fasta(tmp_path / "one.fasta", [("P1", "MKT"), ("P2", "MKT")])
    with pytest.raises(InputError, match="expected at least 2 distinct sequences, got 1"):
        open_store([one], tmp_path / "store")
    twice = fasta(tmp_path / "twice.fasta", [("P1", "MKT"), ("P1", "MWW")])
    with pytest.raises(InputError, match="accession P1 names 2 different sequences"):
        open_store([twice], tmp_path / "store")
    bad = tmp_path / "bad.fasta"
    bad.write_text(">P1\nMKT\n>P2\nMK7\n")
    with pytest.raises(InputError, match="bad.fasta"):
        open_store([str(bad)], tmp_path / "store")
    assert not (tmp_path / "store").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_store_opens_without_the_dumps_read_again(tmp_path):
    """Other processes map the written files; they read no dump."""
    dump = fasta(tmp_path / "a.fasta", RECORDS)
    open_store([dump], tmp_path / "store")
    store = SequenceStore(tmp_path / "store")
    assert isinstance(store.residues, np.memmap) and (tmp_path / "store" / MANIFEST).is_file()
    assert store.meta["sequences"] == 3 and store.meta["residues"] == 10 + 4 + 27


def test_a_build_killed_midway_leaves_nothing_the_next_one_keeps(tmp_path, monkeypatch):
    from ppi.bench.dumps import write_dump

    monkeypatch.setattr(sequence_store, "GRACE_SECONDS", 0)  # the kill below is a moment old

    dump = tmp_path / "big.fasta"
    write_dump(dump, 60_000, mean_log_length=5.4)
    folder = tmp_path / "store"
    code = "import sys; from ppi.data.sequence_store import open_store; "
    code += "open_store([sys.argv[1]], sys.argv[2])"
    child = subprocess.Popen([sys.executable, "-c", code, str(dump), str(folder)])
    deadline = time.monotonic() + 120
    while not any(p.suffix == ".tmp" for p in tmp_path.iterdir()):
        assert child.poll() is None and time.monotonic() < deadline, "the build never started"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".store.")]
    assert left and not folder.exists()  # killed while writing: its scratch folder stays
    # a scratch folder that a live build holds is not touched, whatever its name says
    held = tmp_path / ".store.elsewhere.1.abcd0123.tmp"
    held.mkdir()
    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    others = [held]
    store = open_store([str(dump)], folder)
    assert len(store) == 60_000
    os.close(fd)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == sorted(
        p.name for p in others
    )


def test_a_store_with_a_file_lost_or_cut_is_written_again(tmp_path):
    dump = fasta(tmp_path / "a.fasta", RECORDS)
    open_store([dump], tmp_path / "store")
    (tmp_path / "store" / "id_hashes.npy").unlink()
    assert open_store([dump], tmp_path / "store").accessions([2]) == ["P4"]
    with open(tmp_path / "store" / "residues.bin", "r+b") as handle:
        handle.truncate(5)
    assert open_store([dump], tmp_path / "store").sequence(2) == RECORDS[3][1]


def test_by_default_the_store_lives_in_the_cache_one_for_each_set_of_dumps(tmp_path, monkeypatch):
    monkeypatch.setenv("PPI_CACHE", str(tmp_path / "cache"))
    dump = fasta(tmp_path / "a.fasta", RECORDS)
    other = fasta(tmp_path / "b.fasta", RECORDS[:2])
    first, again = open_store([dump]), open_store([dump])
    assert first.folder == again.folder and first.folder.parent == tmp_path / "cache" / "sequences"
    assert open_store([other]).folder != first.folder
    assert open_store([dump, other]).folder != first.folder


def test_the_store_of_a_dump_before_it_changed_is_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("PPI_CACHE", str(tmp_path / "cache"))
    dump = fasta(tmp_path / "a.fasta", RECORDS)
    kept = open_store([fasta(tmp_path / "b.fasta", RECORDS[:2])]).folder  # other dumps
    before = open_store([dump]).folder
    fasta(tmp_path / "a.fasta", [*RECORDS, ("P5", "MAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")])
    after = open_store([dump])
    assert len(after) == 4 and after.folder != before
    assert not before.exists() and kept.exists()


def test_accessions_take_their_own_bytes_and_a_line_break_in_one_is_refused(tmp_path):
    long = "X" * 5000
    records = [(f"P{i}", "MKT" + "ACDEFGHIKLMNPQRSTVWY"[i % 20] * (i % 7 + 1)) for i in range(300)]
    records.append((long, "MWWWWC"))
    store = open_store([fasta(tmp_path / "a.fasta", records)], tmp_path / "store")
    # one long name costs its own bytes, not 5,000 bytes for every protein
    assert (tmp_path / "store" / "ids.bin").stat().st_size < 5000 + 300 * 5
    assert store.accession(len(store) - 1) == long and store.accession(7) == "P7"
    assert store.indices([long, "P7"], "here").tolist() == [len(store) - 1, 7]
    with pytest.raises(InputError, match="names P7 twice"):
        store.indices(["P7", "P7"], "here")
    xml = tmp_path / "d.xml"
    entry = "<entry><accession>{}</accession><name>N</name><sequence>{}</sequence></entry>"
    xml.write_text(
        '<?xml version="1.0"?><uniprot xmlns="http://uniprot.org/uniprot">'
        + entry.format("P1&#10;x", "MKTAYIAK")
        + entry.format("P2", "MWWC")
        + "</uniprot>"
    )
    with pytest.raises(InputError, match="holds a line break"):
        open_store([str(xml)], tmp_path / "xml_store")


def test_a_cache_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("PPI_CACHE", str(tmp_path / "file"))
    with pytest.raises(InputError, match="cannot write the sequence store there.*PPI_CACHE"):
        open_store([fasta(tmp_path / "a.fasta", RECORDS)])


def test_an_unheld_scratch_folder_goes_once_it_is_older_than_a_moment(tmp_path):
    scratch = tmp_path / ".store.host.1.abcd0123.tmp"
    scratch.mkdir()
    open_store([fasta(tmp_path / "a.fasta", RECORDS)], tmp_path / "store")
    assert scratch.exists()  # perhaps a build between its mkdir and its flock
    past = time.time() - 2 * sequence_store.GRACE_SECONDS
    os.utime(scratch, (past, past))
    sequence_store._remove_leftovers(tmp_path / "store")
    assert not scratch.exists()
