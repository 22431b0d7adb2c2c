"""Hard constraints on generated sequences, checked for feasibility before any sampling.

Kinds: a length or a length range; motifs at a position (``HEXXH@40``: the
motif starts at residue 40, counted from 1; ``X`` is any residue) or anywhere
(``HEXXH``); a template whose ``X`` positions are generated and whose other
positions are kept; minimum and maximum fractions of given residues
(``C=0.03``; ``CM=0.05`` bounds C and M together); forbidden residues.

:func:`plan` turns the constraints into, for one sequence, its length, the
residues fixed at positions and the allowed residues everywhere else;
:func:`check` tells which constraints a finished sequence meets. Constraints
no sequence can meet (:func:`Constraints.problems`) are an :class:`InputError`.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

import torch

from ppi.backbones.base import RESIDUES
from ppi.errors import InputError

#: residue letter -> column of a ``(L, 20)`` allowed mask
COLUMN = {aa: i for i, aa in enumerate(RESIDUES)}
_MOTIF = re.compile(r"^([A-Z]+)(?:@(\d+))?$")


@dataclass(frozen=True)
class Motif:
    """A run of residues (``X`` = any) at ``start`` (0-based), or anywhere if ``start`` is None."""

    text: str
    start: int | None = None

    @property
    def fixed(self) -> dict[int, str]:
        """Offsets within the motif -> residue, for the non-``X`` letters."""
        return {i: aa for i, aa in enumerate(self.text) if aa != "X"}

    def __str__(self) -> str:
        return self.text if self.start is None else f"{self.text}@{self.start + 1}"


@dataclass(frozen=True)
class Fraction:
    """The share of residues in ``residues`` lies in ``[low, high]``."""

    residues: str
    low: float = 0.0
    high: float = 1.0

    def bounds(self, length: int) -> tuple[int, int]:
        """Fewest and most such residues a sequence of ``length`` may hold."""
        return math.ceil(self.low * length - 1e-9), math.floor(self.high * length + 1e-9)


@dataclass(frozen=True)
class Constraints:
    """Everything a generated sequence must satisfy.

    Attributes:
        lengths: the lengths allowed (inclusive range ``(low, high)``); the
            template's length when a template is given.
        motifs: motifs at a position or anywhere.
        template: residues kept, ``X`` where residues are generated; empty if none.
        fractions: residue-share bounds.
        forbidden: residues never written at a generated position.
    """

    lengths: tuple[int, int]
    motifs: tuple[Motif, ...] = ()
    template: str = ""
    fractions: tuple[Fraction, ...] = ()
    forbidden: str = ""

    def problems(self) -> list[str]:
        """Why no sequence can meet these constraints (empty when some can)."""
        low, high = self.lengths
        if not 1 <= low <= high:
            return [f"length: expected 1 <= low <= high, got {low}-{high}"]
        out = []
        for m in self.motifs:
            bad = sorted(set(m.fixed.values()) & set(self.forbidden))
            if bad:
                out.append(f"motif {m}: residue {bad[0]} is also forbidden")
            if len(m.text) > high:
                out.append(f"motif {m}: {len(m.text)} residues do not fit a length of {high}")
            elif m.start is not None and m.start + len(m.text) > high:
                out.append(
                    f"motif {m}: ends at residue {m.start + len(m.text)}, "
                    f"beyond the longest length {high}"
                )
        out += self._fixed_problems()
        if not out and not any(self.fraction_problems(n) == [] for n in range(low, high + 1)):
            out += self.fraction_problems(high)
        return out

    def _fixed_problems(self) -> list[str]:
        fixed: dict[int, str] = {}
        for i, aa in enumerate(self.template):
            if aa != "X":
                fixed[i] = aa
        for m in self.motifs:
            if m.start is None:
                continue
            for off, aa in m.fixed.items():
                pos = m.start + off
                if fixed.get(pos, aa) != aa:
                    where = "the template" if pos < len(self.template) else "another motif"
                    return [f"motif {m}: residue {pos + 1} is {aa} but {where} puts {fixed[pos]}"]
                fixed[pos] = aa
        return []

    def fixed_positions(self) -> dict[int, str]:
        """Residues fixed by the template and the placed motifs (0-based positions)."""
        fixed = {i: aa for i, aa in enumerate(self.template) if aa != "X"}
        for m in self.motifs:
            if m.start is not None:
                fixed.update({m.start + o: aa for o, aa in m.fixed.items()})
        return fixed

    def fraction_problems(self, length: int) -> list[str]:
        """Why the fraction bounds cannot hold in a sequence of ``length`` residues."""
        fixed = self.fixed_positions()
        fixed = {p: aa for p, aa in fixed.items() if p < length}
        floating = sum(len(m.fixed) for m in self.motifs if m.start is None)
        free = length - len(fixed) - floating
        out, needed = [], 0
        for f in self.fractions:
            lo, hi = f.bounds(length)
            have = sum(1 for aa in fixed.values() if aa in f.residues)
            if have > hi:
                out.append(
                    f"fraction {f.residues}<={f.high}: the fixed residues already hold {have} "
                    f"of {length}, more than {hi}"
                )
            for m in self.motifs:  # a motif placed anywhere still writes its letters somewhere
                inside = sum(1 for aa in m.fixed.values() if aa in f.residues)
                if m.start is None and inside > hi >= have:
                    out.append(
                        f"fraction {f.residues}<={f.high}: motif {m} holds {inside} of those "
                        f"residues, more than {hi} at length {length}"
                    )
            if set(f.residues) <= set(self.forbidden) and lo > have:
                out.append(f"fraction {f.residues}>={f.low}: those residues are forbidden")
            elif lo > (most := self._most(f.residues, fixed, length)):
                out.append(
                    f"fraction {f.residues}>={f.low}: the maximum fractions let at most {most} "
                    f"of those residues into length {length}, fewer than {lo}"
                )
            needed += max(lo - have, 0)
        if needed > free + floating:
            out.append(
                f"fractions: the minimum fractions need {needed} residues at length {length}, "
                f"but only {free} positions are generated"
            )
        allowed = [aa for aa in RESIDUES if aa not in self.forbidden]
        caps = sum(_cap(self.fractions, aa, length) for aa in allowed)
        if caps < free:
            why = "the maximum fractions" if allowed else "--forbid, which names every residue,"
            if allowed and self.forbidden:
                why = "the forbidden residues and the maximum fractions"
            out.append(f"{why} leave no residue for some of the {free} generated positions")
        return out

    def _most(self, residues: str, fixed: dict[int, str], length: int) -> int:
        """Most residues of ``residues`` a sequence of ``length`` may hold under the maxima.

        Each residue up to its own maximum (only its fixed copies when it is
        forbidden), and the set up to every group maximum that contains it.
        """
        each = 0
        for aa in set(residues):
            if aa in self.forbidden:
                each += sum(1 for x in fixed.values() if x == aa)
            else:
                each += _cap(self.fractions, aa, length)
        groups = [f.bounds(length)[1] for f in self.fractions if set(residues) <= set(f.residues)]
        return min([each, length, *groups])


def _cap(fractions: tuple[Fraction, ...], aa: str, length: int) -> int:
    """Most copies of ``aa`` the single-residue maxima allow (a loose bound for group maxima)."""
    caps = [f.bounds(length)[1] for f in fractions if f.residues == aa]
    return min(caps) if caps else length


def parse_length(text: str) -> tuple[int, int]:
    """``"120"`` -> (120, 120); ``"80-120"`` -> (80, 120)."""
    parts = text.split("-")
    try:
        low, high = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (0, -1)
    except ValueError:
        raise InputError(f"--length: expected N or LOW-HIGH residues, got {text!r}") from None
    if not 1 <= low <= high:
        raise InputError(f"--length: expected 1 <= LOW <= HIGH, got {text!r}")
    return low, high


def parse_motif(text: str) -> Motif:
    """``HEXXH@40`` (residue 40, counted from 1) or ``HEXXH`` (anywhere)."""
    match = _MOTIF.match(text.strip().upper())
    if not match or set(match.group(1)) - set(RESIDUES + "X"):
        raise InputError(
            f"--motif: expected residues and X with an optional @POSITION (HEXXH@40), got {text!r}"
        )
    start = match.group(2)
    if start is not None and int(start) < 1:
        raise InputError(f"--motif {text}: positions are counted from 1, got {start}")
    return Motif(match.group(1), None if start is None else int(start) - 1)


def parse_fraction(text: str, high: bool) -> Fraction:
    """``C=0.03`` (or ``CM=0.05`` for a group) as a maximum (``high``) or a minimum."""
    name = "--max-fraction" if high else "--min-fraction"
    residues, _, value = text.partition("=")
    residues = residues.strip().upper()
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not residues or set(residues) - set(RESIDUES) or not 0 <= share <= 1:
        raise InputError(f"{name}: expected RESIDUES=SHARE with a share in [0, 1], got {text!r}")
    return Fraction(residues, 0.0, share) if high else Fraction(residues, share, 1.0)


def parse_template(text: str) -> str:
    """A template: residues kept, ``X`` (or ``-``, ``*``) generated."""
    out = re.sub(r"[-*]", "X", "".join(text.split()).upper())
    bad = sorted(set(out) - set(RESIDUES + "X"))
    if not out or bad:
        raise InputError(
            f"--template: expected residues and X for generated positions, got {bad or 'nothing'}"
        )
    return out


@dataclass
class Plan:
    """One sequence to generate: its length, fixed residues, allowed residues, count bounds.

    Shapes:
        ``allowed`` ``(L, 20)`` bool over :data:`RESIDUES`; ``groups`` ``(G, 20)``
        bool, with ``low``/``high`` ``(G,)`` count bounds.
    """

    length: int
    fixed: dict[int, str]
    allowed: torch.Tensor
    groups: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor


def plan(cons: Constraints, rng: random.Random) -> Plan | None:
    """A length and a placement of the floating motifs; None when a motif cannot be placed."""
    lengths = [
        n for n in range(cons.lengths[0], cons.lengths[1] + 1) if not cons.fraction_problems(n)
    ]
    if not lengths:
        return None
    length = rng.choice(lengths)
    fixed = {p: aa for p, aa in cons.fixed_positions().items() if p < length}
    for m in cons.motifs:
        if m.start is not None:
            continue
        starts = [
            s
            for s in range(length - len(m.text) + 1)
            if all(fixed.get(s + o, aa) == aa for o, aa in m.fixed.items())
        ]
        if not starts:
            return None
        s = rng.choice(starts)
        fixed.update({s + o: aa for o, aa in m.fixed.items()})
    allowed = torch.ones(length, len(RESIDUES), dtype=torch.bool)  # (L, 20)
    for aa in cons.forbidden:
        allowed[:, COLUMN[aa]] = False
    for pos, aa in fixed.items():
        allowed[pos] = False
        allowed[pos, COLUMN[aa]] = True
    groups = torch.zeros(len(cons.fractions), len(RESIDUES), dtype=torch.bool)  # (G, 20)
    bounds = []
    for g, f in enumerate(cons.fractions):
        groups[g, [COLUMN[aa] for aa in f.residues]] = True
        bounds.append(f.bounds(length))
    low = torch.tensor([b[0] for b in bounds], dtype=torch.long)
    high = torch.tensor([b[1] for b in bounds], dtype=torch.long)
    held = torch.zeros(len(RESIDUES), dtype=torch.long)  # (20,) fixed residues by kind
    for aa in fixed.values():
        held[COLUMN[aa]] += 1
    if bool(((groups.long() @ held) > high).any()):  # a floating motif broke a maximum
        return None
    return Plan(length, fixed, allowed, groups, low, high)


def check(cons: Constraints, seq: str) -> dict[str, bool]:
    """Each constraint kind -> whether ``seq`` meets it."""
    n = len(seq)
    out = {"length": cons.lengths[0] <= n <= cons.lengths[1]}
    if cons.template:
        out["template"] = n == len(cons.template) and all(
            t == "X" or t == s for t, s in zip(cons.template, seq, strict=False)
        )
    for m in cons.motifs:
        out[f"motif:{m}"] = _has_motif(seq, m)
    for f in cons.fractions:
        lo, hi = f.bounds(n)
        out[f"fraction:{f.residues}"] = lo <= sum(seq.count(aa) for aa in f.residues) <= hi
    if cons.forbidden:
        fixed = cons.fixed_positions()
        out["forbidden"] = not any(
            aa in cons.forbidden for i, aa in enumerate(seq) if i not in fixed
        )
    return out


def _has_motif(seq: str, m: Motif) -> bool:
    starts = [m.start] if m.start is not None else range(len(seq) - len(m.text) + 1)
    return any(
        s + len(m.text) <= len(seq) and all(seq[s + o] == aa for o, aa in m.fixed.items())
        for s in starts
    )
