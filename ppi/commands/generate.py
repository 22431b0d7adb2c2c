"""Generate sequences from a masked language model under hard constraints.

Samples from a ``ppi pretrain`` folder (``--model``) or a backbone with a
masked-LM head (``--backbone antiberty``, ``--backbone esm2
backbone.path=esm2_t6_8M_UR50D.pt``, ``--backbone hf backbone.model=FOLDER``).
Writes a FASTA and a TSV (same name, other suffix) with each sequence's
pseudo-log-likelihood over its generated positions, its constraint checks,
its highest identity to the model's training sequences (or ``--reference``)
and, with ``--score-with RUN --partner FASTA``, its predicted interaction
probability with each partner, ranked. Impossible constraints are one line
and exit code 2 before any sampling.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ppi.commands._args import count, number, output_file
from ppi.errors import InputError


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of ``ppi generate``."""
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="a backbone folder from ppi pretrain")
    src.add_argument("--backbone", help="a backbone with an MLM head: antiberty, esm2, hf")
    parser.add_argument("--num", type=count(1), default=10, help="sequences to try (default 10)")
    parser.add_argument("--length", help="N or LOW-HIGH residues (default: the template's)")
    parser.add_argument("--motif", action="append", default=[], help="HEXXH@40 or HEXXH")
    parser.add_argument("--template", default="", help="residues kept, X where generated")
    parser.add_argument("--min-fraction", action="append", default=[], metavar="RES=SHARE")
    parser.add_argument("--max-fraction", action="append", default=[], metavar="RES=SHARE")
    parser.add_argument("--forbid", default="", help="residues never generated, e.g. CM")
    parser.add_argument("--temperature", type=number(1e-3, 100), default=1.0)
    parser.add_argument("--top-k", type=count(0), default=0, help="0: all residues")
    parser.add_argument("--top-p", type=number(1e-3, 1), default=1.0)
    parser.add_argument("--rounds", type=count(1), default=4, help="unmasking rounds")
    parser.add_argument("--sweeps", type=count(0), default=2, help="Gibbs sweeps after them")
    parser.add_argument("--batch", type=count(1), default=16, help="sequences per model call")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference", help="FASTA for novelty (default: the model's own)")
    parser.add_argument("--score-with", help="a pair model (ppi train run or model folder)")
    parser.add_argument("--partner", help="FASTA of partners to score against (--score-with)")
    parser.add_argument("--out", required=True, help="FASTA (or .tsv) to write")
    parser.add_argument("settings", nargs="*", metavar="backbone.key=value")


def constraints_of(args: argparse.Namespace):
    """The constraints the options describe; impossible ones are an InputError."""
    from ppi.lm.constraints import (
        Constraints,
        parse_fraction,
        parse_length,
        parse_motif,
        parse_template,
    )

    template = parse_template(args.template) if args.template else ""
    if not args.length and not template:
        raise InputError("give --length or a --template")
    lengths = parse_length(args.length) if args.length else (len(template), len(template))
    if template and lengths != (len(template), len(template)):
        raise InputError(
            f"--template has {len(template)} residues but --length asks for {args.length}"
        )
    forbidden = "".join(sorted(set(args.forbid.upper())))
    if set(forbidden) - set("ACDEFGHIKLMNPQRSTVWY"):
        raise InputError(f"--forbid: expected residue letters, got {args.forbid!r}")
    cons = Constraints(
        lengths,
        tuple(parse_motif(m) for m in args.motif),
        template,
        tuple(parse_fraction(f, high=False) for f in args.min_fraction)
        + tuple(parse_fraction(f, high=True) for f in args.max_fraction),
        forbidden,
    )
    problems = cons.problems()
    if problems:
        raise InputError(f"impossible constraints: {'; '.join(problems)}")
    return cons


def main(args: argparse.Namespace) -> int:
    """Check everything, sample, score, write FASTA and TSV atomically."""
    from ppi.config import tools as configtools
    from ppi.utils.logs import setup_logging

    setup_logging()
    out = output_file(args.out)
    cons = constraints_of(args)
    if bool(args.score_with) != bool(args.partner):
        raise InputError("--score-with and --partner go together")
    partners = _read(args.partner, "--partner") if args.partner else {}
    reference = _read(args.reference, "--reference") if args.reference else None
    given = configtools.apply_overrides({}, args.settings)
    settings = given.pop("backbone", {})
    if given or not isinstance(settings, dict):
        raise InputError(f"settings: expected backbone.key=value, got {args.settings}")
    name = "scratch" if args.model else args.backbone
    if args.model:
        settings = {**settings, "path": args.model}
    return _run(args, cons, name, settings, partners, reference, out)


def _read(path: str, option: str) -> dict[str, str]:
    from ppi.data.examples import resolve
    from ppi.data.fasta import read_fasta

    seqs = read_fasta(resolve(path))
    if not seqs:
        raise InputError(f"{option} {path}: expected protein sequences, got none")
    return seqs


def _run(args, cons, name, settings, partners, reference, out: Path) -> int:
    import torch

    from ppi.lm.adapters import load_masked_lm
    from ppi.lm.generate import SamplerConfig, generate
    from ppi.lm.report import likelihoods, novelty, partner_scores, paths, table
    from ppi.utils.files import atomic_write_text

    torch.manual_seed(args.seed)
    lm = load_masked_lm(name, settings)
    if cons.lengths[1] > lm.max_len:
        raise InputError(
            f"--length {cons.lengths[1]}: {lm.identity()} reads at most {lm.max_len} residues"
        )
    cfg = SamplerConfig(
        args.rounds, args.sweeps, 0.1, args.temperature, args.top_k, args.top_p, args.batch
    )
    made = generate(lm, cons, args.num, cfg, seed=args.seed)
    seqs = {f"gen{i + 1:04d}": s for i, s in enumerate(made.sequences)}
    fixed = cons.fixed_positions()
    positions = [[i for i in range(len(s)) if i not in fixed] for s in made.sequences]
    pll = likelihoods(lm, made.sequences, positions)
    if reference is None and lm.reference is not None:
        reference = _read(str(lm.reference), "training sequences")
    ident = novelty(seqs, reference) if reference and seqs else {}
    scores = partner_scores(args.score_with, seqs, partners) if partners and seqs else {}
    rows = []
    for (sid, seq), (total, mean), checks in zip(seqs.items(), pll, made.checks, strict=True):
        row = {
            "id": sid,
            "length": len(seq),
            "pll": total,
            "pll_per_residue": mean,
            "pll_positions": "generated",
            "checks": ",".join(k for k, v in checks.items() if v),
            "max_identity": ident.get(sid, "NA") if reference else "NA",
        }
        row.update({f"p_{p}": scores[sid][p] for p in partners} if scores else {})
        row["sequence"] = seq
        rows.append(row)
    key = (
        (lambda r: -max(r[f"p_{p}"] for p in partners))
        if scores
        else (lambda r: -r["pll_per_residue"])
    )
    rows.sort(key=key)
    fasta, tsv = paths(out)
    atomic_write_text(fasta, "".join(f">{r['id']}\n{r['sequence']}\n" for r in rows))
    atomic_write_text(tsv, table(rows))
    print(
        f"{len(rows)} sequences from {lm.identity()} -> {fasta}, {tsv}; "
        f"{made.dropped} of {args.num} dropped for missing a hard constraint"
    )
    return 0
