"""What each part of a split shares with training: proteins, near neighbours, labels.

:func:`overlap_report` describes every held-out part against the training
part; :func:`write_split` writes the parts as pair files together with
``split_report.json`` and ``split_report.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ppi.data.leakage import CLASSES, PairSplit, classify
from ppi.data.pairs import Pair, write_pairs
from ppi.data.similarity import Neighbours
from ppi.utils.files import atomic_write_text

REPORT = "split_report.json"


def part_summary(pairs: Sequence[Pair]) -> dict:
    """Pairs, positives, positive fraction and distinct proteins of one part."""
    positives = sum(p.label == 1 for p in pairs)
    return {
        "pairs": len(pairs),
        "positives": int(positives),
        "positive_fraction": positives / len(pairs) if pairs else float("nan"),
        "proteins": len({x for p in pairs for x in (p.a, p.b)}),
    }


def overlap(
    train: Sequence[Pair],
    part: Sequence[Pair],
    canon: Mapping[str, str],
    nb: Neighbours | None,
    threshold: float | None,
) -> dict:
    """How much of ``part`` training has seen: shared proteins, pair classes, nearest identity."""
    seen = {canon.get(x, x) for p in train for x in (p.a, p.b)}
    proteins = {x for p in part for x in (p.a, p.b)}
    shared = sum(canon.get(x, x) in seen for x in proteins)
    out = part_summary(part) | {
        "proteins_shared_with_train": shared,
        "shared_fraction": shared / len(proteins) if proteins else float("nan"),
        "classes": classify(train, part, canon),
    }
    if nb is not None:
        train_ids = {x for p in train for x in (p.a, p.b)}
        unseen = list(nb.nearest(proteins - train_ids, train_ids).values())
        near = np.array(unseen + [1.0] * len(proteins & train_ids))  # a seen protein: 1
        out["nearest_identity"] = {
            "median": float(np.median(near)),
            "mean": float(near.mean()),
            "max": float(near.max()),
            "at_or_above_threshold": float((near >= (threshold or 1.0)).mean()),
        }
    return out


def overlap_report(
    split: PairSplit,
    canon: Mapping[str, str],
    nb: Neighbours | None = None,
    threshold: float | None = None,
    measure: str = "",
) -> dict:
    """The report of a whole split: settings, the train part, and each held-out part."""
    train = split.parts["train"]
    report = {
        "method": split.method,
        "threshold": threshold,
        "measure": measure if nb is not None else None,
        "dropped_pairs": split.dropped,
        "same_sequence_ids": sum(1 for k, v in canon.items() if k != v),
        "notes": split.notes,
        "train": part_summary(train),
        "held_out": {},
    }
    for name, pairs in split.parts.items():
        if name != "train" and pairs:
            report["held_out"][name] = overlap(train, pairs, canon, nb, threshold)
    return report


def write_split(split: PairSplit, report: dict, out: Path) -> list[Path]:
    """Write ``<part>.tsv`` for every non-empty part and the JSON and Markdown reports."""
    out.mkdir(parents=True, exist_ok=True)
    written = [
        write_pairs(pairs, out / f"{name.lower()}.tsv")
        for name, pairs in split.parts.items()
        if pairs
    ]
    atomic_write_text(out / REPORT, json.dumps(report, indent=2) + "\n")
    written.append(atomic_write_text(out / "split_report.md", report_markdown(report)))
    return written


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def report_markdown(report: dict) -> str:
    """The overlap report as a Markdown table, one row per part."""
    head = ["part", "pairs", "positives", "pos. fraction", "proteins", "shared w/ train"]
    head += [*CLASSES, "NN identity median", "NN >= threshold"]
    lines = [
        f"# Split: {report['method']}",
        "",
        f"- similarity: {report['measure'] or 'not computed'}, threshold {report['threshold']}",
        f"- pairs dropped (across held-out sides): {report['dropped_pairs']}",
        f"- ids sharing a sequence with another id: {report['same_sequence_ids']}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    t = report["train"]
    lines.append(
        f"| train | {t['pairs']} | {t['positives']} | {_fmt(t['positive_fraction'])} "
        f"| {t['proteins']} | | | | | | |"
    )
    for name, part in report["held_out"].items():
        near = part.get("nearest_identity", {})
        cells = [name, part["pairs"], part["positives"], part["positive_fraction"]]
        cells += [part["proteins"], f"{part['shared_fraction']:.3f}"]
        cells += [part["classes"][c] for c in CLASSES]
        cells += [near.get("median", ""), near.get("at_or_above_threshold", "")]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
