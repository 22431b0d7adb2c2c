"""Fuzzing the readers of user files: random bytes and damaged real records.

The only allowed outcomes are a parse or :class:`ppi.errors.InputError`;
anything else (an ``IndexError`` deep in a parser, a ``UnicodeDecodeError``)
is a bug. Each reader gets :data:`EXAMPLES` examples, a few seconds in all.
Seeds are small slices of the bundled fixtures so one example parses fast.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppi.data.fasta import read_fasta
from ppi.data.pairs import read_pairs
from ppi.data.structures import read_structure
from ppi.data.uniprot_dump import read_dump
from ppi.errors import InputError

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
#: examples per reader: about a second each with the slices below; PPI_FUZZ_EXAMPLES=5000
#: searches longer
EXAMPLES = int(os.environ.get("PPI_FUZZ_EXAMPLES", "120"))


def _head(path: Path, lines: int) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        return b"".join(handle.readline() for _ in range(lines))


def _fasta(path: Path, records: int) -> bytes:
    """The first ``records`` records of a FASTA file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        parts = handle.read().split(b"\n>")
    return b"\n>".join(parts[:records]) + b"\n"


def _cif_seed() -> bytes:
    """The mmCIF fixture's header and atom_site loop with its first 30 atoms."""
    lines = (FIXTURES / "structure/pdb/1A8O.cif").read_bytes().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(b"_atom_site."))
    first_atom = next(i for i, line in enumerate(lines) if line.startswith(b"ATOM"))
    return b"data_1A8O\n#\nloop_\n" + b"".join(lines[start:first_atom] + lines[first_atom:][:30])


def _flat_seed() -> bytes:
    """The first entry of the Swiss-Prot flat-file fixture."""
    text = (FIXTURES / "uniprot/multi_ex.txt").read_bytes()
    return text[: text.index(b"\n//\n") + 4]


def _xml_seed() -> bytes:
    """The UniProt XML fixture cut after its first entry, closed again."""
    text = (FIXTURES / "uniprot/multi_ex.xml").read_bytes()
    return text[: text.index(b"</entry>") + len(b"</entry>")] + b"\n</uniprot>\n"


def _atoms(path: Path, count: int) -> bytes:
    """The first ``count`` ATOM records of a PDB file."""
    lines = path.read_bytes().splitlines(keepends=True)
    return b"".join([line for line in lines if line.startswith(b"ATOM")][:count]) + b"END\n"


def _dump(path: Path) -> list:
    return list(read_dump(path))


PDB = FIXTURES / "structure/pdb"
GUO = ROOT / "data/examples/guo_yeast"
#: reader name -> (file suffix, call, seed records)
READERS: dict[str, tuple[str, Callable[[Path], object], list[bytes]]] = {
    "fasta": (".fasta", read_fasta, [_fasta(GUO / "sequences.fasta", 4)]),
    "pairs": (".tsv", read_pairs, [_head(GUO / "pairs.tsv", 8)]),
    "dump-fasta": (".fasta", _dump, [_fasta(FIXTURES / "uniprot/multi_ex.fasta", 3)]),
    "dump-flat": (".dat", _dump, [_flat_seed()]),
    "dump-xml": (".xml", _dump, [_xml_seed()]),
    "pdb": (
        ".pdb",
        read_structure,
        [(PDB / "disordered.pdb").read_bytes(), _atoms(PDB / "1A8O.pdb", 40)],
    ),
    "mmcif": (".cif", read_structure, [_cif_seed()]),
}

#: bytes that break parsers: field separators, quotes, digits, signs, non-UTF-8
NASTY = st.sampled_from(
    [b"\t", b",", b"\n", b"\r", b" ", b'"', b"'", b">", b"<", b"-", b".", b"0", b"9", b"1e99",
     b"nan", b"\x00", b"\xff", b"\xc3", b"ID   ", b"//", b"ATOM  ", b"loop_", b"_atom_site.x", b"?"]
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A real record with a few cuts, insertions, repeats and overwrites."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "insert", "repeat", "overwrite", "truncate"]))
        if kind == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "insert":
            data[at:at] = draw(NASTY | st.binary(min_size=1, max_size=8))
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
        elif kind == "overwrite":
            piece = draw(NASTY)
            data[at : at + len(piece)] = piece
        else:
            del data[at:]
    return bytes(data)


def _inputs(seeds: list[bytes]) -> st.SearchStrategy[tuple[bytes, str]]:
    """Random bytes or a mutated record, plain, gzipped, or gzipped and cut short."""
    return st.tuples(
        st.binary(max_size=400) | mutated(seeds), st.sampled_from(["plain", "gzip", "gzip-cut"])
    )


def _read(suffix: str, call: Callable[[Path], object], data: bytes, how: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}{'' if how == 'plain' else '.gz'}"
        packed = data if how == "plain" else gzip.compress(data, mtime=0)
        path.write_bytes(packed[: len(packed) * 2 // 3] if how == "gzip-cut" else packed)
        try:
            call(path)
        except InputError as exc:
            assert "\n" not in str(exc).strip(), f"a multi-line message: {exc}"


@pytest.mark.parametrize("reader", sorted(READERS))
def test_reader_parses_or_raises_input_error(reader):
    suffix, call, seeds = READERS[reader]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,  # bounded by the example count: a loaded machine must not flake it
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_inputs(seeds))
    def check(case):
        _read(suffix, call, *case)

    check()


def test_the_seeds_parse():
    for suffix, call, seeds in READERS.values():
        for seed in seeds:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"seed{suffix}"
                path.write_bytes(seed)
                call(path)


def test_an_xml_encoding_python_does_not_know_is_an_input_error(tmp_path):
    """Found by the fuzz test above: ``encoding='TF-8'`` raised LookupError from expat."""
    from ppi.data.annotations import read_uniprot_xml

    path = tmp_path / "odd.xml"
    path.write_bytes(_xml_seed().replace(b"UTF-8", b"TF-8", 1).replace(b"utf-8", b"TF-8", 1))
    assert b"TF-8" in path.read_bytes()[:100]
    for read in (_dump, lambda p: list(read_uniprot_xml(p))):
        with pytest.raises(InputError, match=r"odd\.xml:1: expected an XML encoding.*TF-8"):
            read(path)
