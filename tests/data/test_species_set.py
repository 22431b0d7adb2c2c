"""The cross-species set builder (D-SCRIPT's protocol)."""

from __future__ import annotations

import pytest

from ppi.data.species_set import read_id_sequences, read_interactions, species_pairs
from ppi.errors import InputError


def _files(tmp_path):
    seqs = {f"S{i}": "M" + "K" * (10 + i) for i in range(30)}
    seqs["LONG"] = "M" * 900
    (tmp_path / "seq.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in seqs.items()))
    rows = ["item_id_a\titem_id_b\tmode"]
    rows += [f"S{i}\tS{i + 1}\tbinding" for i in range(0, 20)]
    rows += [f"S{i + 1}\tS{i}\treaction" for i in range(0, 20)]  # the same pairs, other order
    rows += ["S0\tLONG\tbinding"]
    (tmp_path / "act.tsv").write_text("\n".join(rows) + "\n")
    return tmp_path / "act.tsv", tmp_path / "seq.tsv"


def test_positives_once_long_proteins_dropped_negatives_per_positive(tmp_path):
    act, seq = _files(tmp_path)
    pairs, used = species_pairs(read_interactions(act), read_id_sequences(seq), negatives=5, seed=3)
    pos = [p for p in pairs if p.label == 1]
    neg = [p for p in pairs if p.label == 0]
    assert len(pos) == 20 and len(neg) == 100
    assert "LONG" not in used
    known = {frozenset((p.a, p.b)) for p in pos}
    assert not known & {frozenset((p.a, p.b)) for p in neg}
    assert len({frozenset((p.a, p.b)) for p in neg}) == 100
    assert {x for p in neg for x in (p.a, p.b)} <= {x for p in pos for x in (p.a, p.b)}
    again, _ = species_pairs(read_interactions(act), read_id_sequences(seq), negatives=5, seed=3)
    assert again == pairs


def test_a_bad_row_names_the_file_and_line(tmp_path):
    (tmp_path / "seq.tsv").write_text("A\tMKV\nB\tMK7\n")
    with pytest.raises(InputError, match=r"seq.tsv:2: record 'B'.*'7'"):
        read_id_sequences(tmp_path / "seq.tsv")
