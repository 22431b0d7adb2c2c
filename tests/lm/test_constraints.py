import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppi.backbones.base import RESIDUES
from ppi.errors import InputError
from ppi.lm.adapters import ScratchMaskedLM
from ppi.lm.constraints import (
    Constraints,
    Fraction,
    Motif,
    check,
    parse_fraction,
    parse_length,
    parse_motif,
    parse_template,
    plan,
)
from ppi.lm.generate import SamplerConfig, generate

FAST = SamplerConfig(rounds=2, sweeps=1, batch=8)


def test_parsers_read_positions_from_one():
    assert parse_motif("hexxh@40") == Motif("HEXXH", 39)
    assert parse_motif("HEXXH") == Motif("HEXXH", None)
    assert parse_length("80-120") == (80, 120)
    assert parse_length("50") == (50, 50)
    assert parse_fraction("C=0.03", high=True) == Fraction("C", 0.0, 0.03)
    assert parse_template("EV-QXX") == "EVXQXX"


@pytest.mark.parametrize(
    ("fn", "text"),
    [
        (parse_motif, "HE1XH@4"),
        (parse_motif, "HEXXH@0"),
        (parse_length, "120-80"),
        (parse_length, "abc"),
        (lambda t: parse_fraction(t, True), "C=1.5"),
        (lambda t: parse_fraction(t, True), "C"),
        (parse_template, "EVQ7"),
    ],
)
def test_malformed_constraints_are_input_errors(fn, text):
    with pytest.raises(InputError):
        fn(text)


@pytest.mark.parametrize(
    ("cons", "words"),
    [
        (Constraints((5, 5), motifs=(Motif("HEXXHAA"),)), "do not fit"),
        (Constraints((10, 10), motifs=(Motif("HEXXH", 7),)), "beyond the longest"),
        (Constraints((10, 10), fractions=(Fraction("A", 0.6, 1), Fraction("C", 0.6, 1))), "need"),
        (Constraints((10, 10), template="AAAAAAAAAA", fractions=(Fraction("A", 0, 0.5),)), "fixed"),
        (Constraints((10, 10), fractions=(Fraction("C", 0.2, 1),), forbidden="C"), "forbidden"),
        (Constraints((10, 10), template="XXXXXXXXXX", motifs=(Motif("HEH", 12),)), "beyond"),
        (Constraints((6, 6), template="AXXXXX", motifs=(Motif("HE", 0),)), "template"),
        (Constraints((4, 4), motifs=(Motif("CC"),), forbidden="C"), "forbidden"),
        # a minimum above a maximum: of the same residue, of a group, through its members
        (Constraints((60, 60), fractions=(Fraction("Q", 0.5), Fraction("Q", 0, 0.01))), "at most"),
        (Constraints((60, 60), fractions=(Fraction("Q", 0.5), Fraction("QN", 0, 0.3))), "at most"),
        (
            Constraints(
                (60, 60),
                fractions=(Fraction("QN", 0.5), Fraction("Q", 0, 0.2), Fraction("N", 0, 0.2)),
            ),
            "at most 24",
        ),
        (
            Constraints((60, 60), motifs=(Motif("CXCC"),), fractions=(Fraction("C", 0, 0.04),)),
            "CXCC",
        ),
    ],
)
def test_impossible_constraints_are_named(cons, words):
    problems = cons.problems()
    assert problems and any(words in p for p in problems), problems


def test_possible_constraints_have_no_problems():
    cons = Constraints((80, 120), motifs=(Motif("HEXXH", 39),), fractions=(Fraction("C", 0, 0.03),))
    assert cons.problems() == []
    # a minimum of a group its members' maxima can reach together
    split = (Fraction("QN", 0.5), Fraction("Q", 0, 0.3), Fraction("N", 0, 0.3))
    assert Constraints((60, 60), fractions=split).problems() == []


def test_check_names_each_failed_kind():
    cons = Constraints(
        (6, 6), motifs=(Motif("HEXXH", 0),), fractions=(Fraction("C", 0, 0.2),), forbidden="W"
    )
    assert all(check(cons, "HEAAHK").values())
    result = check(cons, "HECCHW")
    assert result["fraction:C"] is False and result["forbidden"] is False
    assert result["motif:HEXXH@1"] is True
    assert check(cons, "AEAAHK")["motif:HEXXH@1"] is False


@st.composite
def constraint_sets(draw):
    low = draw(st.integers(8, 30))
    high = draw(st.integers(low, low + 10))
    letters = st.sampled_from(RESIDUES)
    motif_text = "".join(draw(st.lists(st.sampled_from(RESIDUES + "XX"), min_size=1, max_size=5)))
    placed = draw(st.booleans())
    start = draw(st.integers(0, low - len(motif_text))) if placed else None
    forbidden = "".join(sorted(set(draw(st.lists(letters, max_size=3))) - set(motif_text)))
    fractions = []
    for _ in range(draw(st.integers(0, 2))):
        aa = draw(letters)
        lo = draw(st.sampled_from([0.0, 0.1, 0.2]))
        hi = draw(st.sampled_from([0.05, 0.1, 0.3, 1.0]))
        fractions.append(Fraction(aa, lo, max(lo, hi)))
    template = ""
    if draw(st.booleans()):
        template = "".join(
            draw(st.lists(st.sampled_from(RESIDUES + "XXXXXX"), min_size=low, max_size=low))
        )
        high = low
    return Constraints(
        (low, high), (Motif(motif_text, start),), template, tuple(fractions), forbidden
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cons=constraint_sets(), seed=st.integers(0, 1000))
def test_every_written_sequence_meets_every_constraint(tiny_lm_folder, cons, seed):
    if cons.problems():
        return  # rejected before sampling (tested above)
    out = generate(ScratchMaskedLM(tiny_lm_folder), cons, 6, FAST, seed=seed)
    assert len(out.sequences) + out.dropped == 6
    for seq in out.sequences:  # checked here without ppi.lm.constraints.check
        assert cons.lengths[0] <= len(seq) <= cons.lengths[1]
        assert set(seq) <= set(RESIDUES)
        if cons.template:
            assert all(t in ("X", s) for t, s in zip(cons.template, seq, strict=True))
        m = cons.motifs[0]
        starts = [m.start] if m.start is not None else range(len(seq) - len(m.text) + 1)
        assert any(all(c in ("X", seq[s + i]) for i, c in enumerate(m.text)) for s in starts)
        for f in cons.fractions:
            share = sum(seq.count(a) for a in f.residues) / len(seq)
            assert f.low - 1e-9 <= share <= f.high + 1e-9, (f, seq)
        fixed = set(cons.fixed_positions())
        for i, aa in enumerate(seq):
            if i not in fixed and aa in cons.forbidden:
                # only a floating motif may place a forbidden letter: never, they are disjoint
                raise AssertionError((i, aa, seq))


def test_most_feasible_candidates_are_kept(tiny_lm_folder):
    cons = Constraints(
        (40, 60),
        motifs=(Motif("HEXXH", 9), Motif("CXXC")),
        fractions=(Fraction("C", 0, 0.1), Fraction("L", 0.2, 1)),
        forbidden="W",
    )
    out = generate(ScratchMaskedLM(tiny_lm_folder), cons, 20, FAST, seed=3)
    assert out.dropped == 0 and len(out.sequences) == 20
    assert all(s.count("L") >= 0.2 * len(s) for s in out.sequences)


def test_same_seed_same_sequences_other_seed_others(tiny_lm_folder):
    lm = ScratchMaskedLM(tiny_lm_folder)
    cons = Constraints((20, 30))
    a = generate(lm, cons, 5, FAST, seed=7).sequences
    b = generate(lm, cons, 5, FAST, seed=7).sequences
    c = generate(lm, cons, 5, FAST, seed=8).sequences
    assert a == b and a != c


def test_plan_places_floating_motif_where_it_fits():
    cons = Constraints((10, 10), template="AAAXXXXAAA", motifs=(Motif("HEXH"),))
    p = plan(cons, random.Random(0))
    assert p is not None
    placed = "".join(p.fixed.get(i, "?") for i in range(10))
    assert placed == "AAAHE?HAAA"  # the only start where H, E, H land on generated positions
