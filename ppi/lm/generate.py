"""Constrained sampling from a masked language model.

Iterative masked decoding (in the spirit of Mask-Predict, Ghazvininejad et
al. 2019, as protein MLM samplers use it): every generated position starts
masked; in each of ``rounds`` rounds the model reads the current sequences
and the most confident masked positions are filled. Then ``sweeps`` Gibbs
sweeps re-mask a random share of the generated positions and resample them
from the model given the rest (Wang & Cho 2019). Sequences are batched.

Hard constraints are kept while sampling, position by position: a residue
whose maximum count is reached is no longer offered, and when the
positions left are just enough for the residues a minimum still needs, only
those are offered. A sequence that still fails :func:`ppi.lm.constraints.check`
(or whose floating motif cannot be placed) is dropped and counted.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from ppi.backbones.base import RESIDUES
from ppi.lm.adapters import MaskedLM
from ppi.lm.constraints import COLUMN, Constraints, Plan, check, plan


@dataclass(frozen=True)
class SamplerConfig:
    """Sampler settings.

    Attributes:
        rounds: unmasking rounds (each fills about 1/rounds of the positions).
        sweeps: Gibbs sweeps after the last round.
        gibbs_share: share of the generated positions resampled per sweep.
        temperature: softmax temperature (lower: more likely residues).
        top_k: keep the k most likely residues (0: all).
        top_p: keep the smallest set of residues whose probability reaches p.
        batch: sequences the model reads at once.
    """

    rounds: int = 4
    sweeps: int = 2
    gibbs_share: float = 0.1
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    batch: int = 16


@dataclass
class _State:
    """One sequence being generated: letters ('X' where undecided) and running counts."""

    plan: Plan
    chars: list[str]
    free: list[int]

    @classmethod
    def start(cls, p: Plan) -> _State:
        chars = ["X"] * p.length
        for pos, aa in p.fixed.items():
            chars[pos] = aa
        free = [i for i in range(p.length) if i not in p.fixed]
        return cls(p, chars, free)

    def group_counts(self) -> torch.Tensor:
        """How many residues of each fraction group are decided now, ``(G,)``."""
        held = torch.zeros(len(RESIDUES), dtype=torch.long)
        for aa in self.chars:
            if aa != "X":
                held[COLUMN[aa]] += 1
        return self.plan.groups.long() @ held

    def options(self, pos: int, counts: torch.Tensor, open_slots: int) -> torch.Tensor:
        """Residues allowed at ``pos`` given the counts so far, ``(20,)`` bool."""
        p = self.plan
        allowed = p.allowed[pos].clone()
        if len(p.groups):
            full = counts >= p.high  # (G,)
            if bool(full.any()):
                allowed &= ~p.groups[full].any(0)
            deficit = (p.low - counts).clamp(min=0)  # (G,)
            if int(deficit.sum()) >= open_slots and bool((deficit > 0).any()):
                allowed &= p.groups[deficit > 0].any(0)
        return allowed


def _draw(
    logp: torch.Tensor, allowed: torch.Tensor, cfg: SamplerConfig, gen: torch.Generator
) -> int:
    """One residue column from ``logp`` ``(20,)`` restricted to ``allowed``, -1 if none."""
    if not bool(allowed.any()):
        return -1
    scores = (logp / max(cfg.temperature, 1e-6)).masked_fill(~allowed, float("-inf"))
    if cfg.top_k > 0:
        kth = torch.topk(scores, min(cfg.top_k, int(allowed.sum()))).values[-1]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    probs = torch.softmax(scores, -1)
    if cfg.top_p < 1.0:
        order = torch.argsort(probs, descending=True)
        cum = torch.cumsum(probs[order], 0)
        cut = order[(cum - probs[order]) >= cfg.top_p]  # beyond the nucleus
        probs[cut] = 0.0
    return int(torch.multinomial(probs, 1, generator=gen))


def _fill(state: _State, positions: list[int], logp: torch.Tensor, cfg, gen) -> bool:
    """Commit residues at ``positions`` (all undecided) in order; False if one has no option."""
    counts = state.group_counts()
    open_slots = sum(1 for i in state.free if state.chars[i] == "X")
    for pos in positions:
        allowed = state.options(pos, counts, open_slots)
        col = _draw(logp[pos], allowed, cfg, gen)
        if col < 0:
            return False
        state.chars[pos] = RESIDUES[col]
        counts += state.plan.groups[:, col].long()
        open_slots -= 1
    return True


def _decode_batch(lm: MaskedLM, states: list[_State], cfg: SamplerConfig, gen) -> list[bool]:
    """Run the rounds and sweeps on a batch; returns which sequences stayed feasible."""
    alive = [True] * len(states)
    for r in range(cfg.rounds):
        logp = _read(lm, states)  # (B, L, 20)
        for b, st in enumerate(states):
            todo = [i for i in st.free if st.chars[i] == "X"]
            if not alive[b] or not todo:
                continue
            take = math.ceil(len(todo) / (cfg.rounds - r))
            conf = (logp[b, todo].masked_fill(~st.plan.allowed[todo], float("-inf"))).amax(-1)
            order = [todo[i] for i in torch.argsort(conf, descending=True)[:take].tolist()]
            alive[b] = _fill(st, order, logp[b], cfg, gen)
    for _ in range(cfg.sweeps):
        picks = []
        for st in states:
            k = max(1, round(cfg.gibbs_share * len(st.free))) if st.free else 0
            idx = torch.randperm(len(st.free), generator=gen)[:k].tolist()
            chosen = [st.free[i] for i in idx]
            for pos in chosen:
                st.chars[pos] = "X"
            picks.append(chosen)
        logp = _read(lm, states)
        for b, st in enumerate(states):
            if alive[b] and picks[b]:
                alive[b] = _fill(st, picks[b], logp[b], cfg, gen)
    return alive


def _read(lm: MaskedLM, states: list[_State]) -> torch.Tensor:
    """The model's log-probabilities with undecided positions masked, ``(B, L, 20)``."""
    seqs = ["".join(st.chars) for st in states]
    width = max(len(s) for s in seqs)
    masked = torch.zeros(len(seqs), width, dtype=torch.bool)  # (B, L)
    for b, s in enumerate(seqs):
        masked[b, : len(s)] = torch.tensor([c == "X" for c in s])
    return lm.residue_log_probs(seqs, masked)


@dataclass
class Generated:
    """What :func:`generate` made: the sequences and how many candidates were dropped."""

    sequences: list[str]
    dropped: int
    checks: list[dict[str, bool]]


def generate(
    lm: MaskedLM, cons: Constraints, num: int, cfg: SamplerConfig, seed: int = 0
) -> Generated:
    """``num`` candidates; those that miss a hard constraint are dropped and counted."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    kept, checks, dropped = [], [], 0
    plans = [plan(cons, rng) for _ in range(num)]
    dropped += sum(p is None for p in plans)
    ready = [p for p in plans if p is not None]
    ready.sort(key=lambda p: p.length)  # similar lengths share a batch
    for start in range(0, len(ready), cfg.batch):
        states = [_State.start(p) for p in ready[start : start + cfg.batch]]
        alive = _decode_batch(lm, states, cfg, gen)
        for ok, st in zip(alive, states, strict=True):
            seq = "".join(st.chars)
            result = check(cons, seq)
            if ok and all(result.values()):
                kept.append(seq)
                checks.append(result)
            else:
                dropped += 1
    return Generated(kept, dropped, checks)


def pseudo_log_likelihood(
    lm: MaskedLM, seqs: list[str], positions: list[list[int]], batch: int = 64
) -> list[float]:
    """Sum over ``positions`` of log p(residue | all other residues), one masked copy per position.

    Salazar et al. 2020's pseudo-log-likelihood, as ESM-style models are scored.
    """
    rows = [(b, p) for b, ps in enumerate(positions) for p in ps]
    total = [0.0] * len(seqs)
    for start in range(0, len(rows), batch):
        part = rows[start : start + batch]
        texts = [seqs[b] for b, _ in part]
        width = max(len(t) for t in texts)
        masked = torch.zeros(len(part), width, dtype=torch.bool)  # (R, L)
        for r, (_, p) in enumerate(part):
            masked[r, p] = True
        logp = lm.residue_log_probs(texts, masked)  # (R, L, 20)
        for r, (b, p) in enumerate(part):
            aa = seqs[b][p]
            if aa in COLUMN:
                total[b] += float(logp[r, p, COLUMN[aa]])
    return total
