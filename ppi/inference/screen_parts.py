"""A screen's parts on disk: one per process, resumable, merged into the outputs at the end.

The output folder of an unfinished screen holds ``screen.json`` (what the
screen is of: model, proteins, settings; see :func:`check_record`) and
``parts/``: for each process that scored blocks, ``part-<rank>.safetensors``
(its top-k tables, histogram, the blocks it finished and where each block's
hits end) and ``hits-<rank>.tsv`` (the hit lines of those blocks, in the order
scored). A part is saved atomically after every block, and bytes of the hits
file past the last saved block are dropped on resume, so a killed process
loses at most its current block. A restart with another number of processes
reads every part, deals the blocks none has, and each process continues the
part of its own rank (parts of higher ranks stay as they are).

:func:`finish` merges the parts: hits in block order (within a block,
row-major), top partners by probability with ties broken by partner order,
histograms summed. One process and several write the same files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from ppi.errors import InputError
from ppi.utils.files import atomic_save_tensors, atomic_write, atomic_write_text

PARTS = "parts"
RECORD = "screen.json"
HITS = "hits.tsv"
TOP = "top_partners.tsv"
SUMMARY = "summary.json"
HISTOGRAM = "score_histogram.png"
BINS = 50


@dataclass
class Part:
    """What one process has accumulated; saved after every block.

    Attributes:
        top_p: best probabilities per protein ``(N, k)``, -1 where empty.
        top_i: partner indices ``(N, k)``, -1 where empty.
        hist: counts of probabilities in ``BINS`` bins over [0, 1].
        blocks: the blocks finished, in the order scored.
        ends: for each of them, the byte of the hits file where its lines end.
        hits: pairs at or above the threshold so far.
        scored: pairs scored so far.
        seconds: time spent scoring so far (over every run).
    """

    top_p: torch.Tensor
    top_i: torch.Tensor
    hist: torch.Tensor = field(default_factory=lambda: torch.zeros(BINS, dtype=torch.long))
    blocks: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    hits: int = 0
    scored: int = 0
    seconds: float = 0.0

    @classmethod
    def empty(cls, n: int, k: int) -> Part:
        """A part before any block."""
        return cls(torch.full((n, k), -1.0), torch.full((n, k), -1, dtype=torch.long))

    @classmethod
    def resume(cls, path: Path, hits: Path, n: int, k: int) -> Part:
        """The saved part (or an empty one); its hits file cut back to its last whole block."""
        part = cls.load(path) if path.is_file() else cls.empty(n, k)
        hits.parent.mkdir(parents=True, exist_ok=True)
        with open(hits, "ab") as handle:
            handle.truncate(part.hit_bytes)  # drop lines of a block that did not finish
        return part

    @property
    def hit_bytes(self) -> int:
        """Bytes of the hits file that belong to finished blocks."""
        return self.ends[-1] if self.ends else 0

    def add(self, block: int, written: int, scored: int, seconds: float) -> None:
        """Record a finished block whose hit lines took ``written`` bytes."""
        self.ends.append(self.hit_bytes + written)
        self.blocks.append(block)
        self.scored += scored
        self.seconds += seconds

    def save(self, path: Path) -> None:
        """Write the part atomically."""
        counters = torch.tensor([self.hits, self.scored], dtype=torch.long)
        tensors = {
            "top_p": self.top_p,
            "top_i": self.top_i,
            "hist": self.hist,
            "blocks": torch.tensor(self.blocks, dtype=torch.long),
            "ends": torch.tensor(self.ends, dtype=torch.long),
            "counters": counters,
            "seconds": torch.tensor([self.seconds], dtype=torch.float64),
        }
        atomic_save_tensors(tensors, path)

    @classmethod
    def load(cls, path: Path) -> Part:
        """Read a saved part."""
        t = load_file(path)
        hits, scored = t["counters"].tolist()
        return cls(
            t["top_p"],
            t["top_i"],
            t["hist"],
            t["blocks"].tolist(),
            t["ends"].tolist(),
            hits,
            scored,
            t["seconds"].item(),
        )


def part_paths(out: Path, rank: int) -> tuple[Path, Path]:
    """The state file and the hits file of the part of process ``rank``."""
    return out / PARTS / f"part-{rank}.safetensors", out / PARTS / f"hits-{rank}.tsv"


def saved_parts(out: Path) -> Iterator[tuple[Path, Part]]:
    """Every saved part in the folder, with its hits file, by rank."""
    folder = out / PARTS
    paths = folder.glob("part-*.safetensors") if folder.is_dir() else []
    for path in sorted(paths, key=lambda p: int(p.stem.split("-")[1])):
        yield folder / f"hits-{path.stem.split('-')[1]}.tsv", Part.load(path)


def done_blocks(out: Path) -> set[int]:
    """The blocks some part has finished."""
    return {b for _, part in saved_parts(out) for b in part.blocks}


def check_record(out: Path, record: dict[str, str]) -> None:
    """Refuse a folder holding an unfinished screen of other inputs, naming what differs.

    A folder without a record gets this one.
    """
    path = out / RECORD
    if path.is_file():
        saved = json.loads(path.read_text())
        differ = [key for key, value in record.items() if saved.get(key) != value]
        if differ:
            raise InputError(
                f"{out}: holds an unfinished screen of other inputs ({', '.join(differ)} "
                "differ); expected the same arguments to resume, or choose another --out"
            )
    elif (out / PARTS).is_dir() and any((out / PARTS).iterdir()):
        raise InputError(f"{out}: holds screen parts without {RECORD}; choose another --out")
    else:
        atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def merge_top(part: Part, rows: range, cols: range, probs: torch.Tensor) -> None:
    """Merge a block's best partners of each row protein into the running top-k.

    The order is by probability, then by partner (the lower index first), so
    merging blocks or parts in any grouping keeps the same partners.

    Shapes:
        probs ``(R, C)`` with -1 where a pair does not count.
    """
    k = part.top_p.shape[1]
    columns = torch.arange(cols.start, cols.stop).expand_as(probs)  # (R, C)
    best_p, best_j = ranked(probs, columns, k, in_order=True)
    best_j = torch.where(best_p >= 0, best_j, -1)  # (R, k) global indices
    sl = slice(rows.start, rows.stop)
    cand_p = torch.cat([part.top_p[sl], best_p], 1)  # (R, 2k)
    cand_i = torch.cat([part.top_i[sl], best_j], 1)  # (R, 2k)
    part.top_p[sl], part.top_i[sl] = ranked(cand_p, cand_i, k)


def ranked(
    p: torch.Tensor, i: torch.Tensor, k: int, in_order: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best of each row by probability, then by index (empty slots, -1, last).

    ``in_order``: the indices of each row already ascend (a block's columns).

    Shapes:
        p, i ``(R, C)`` -> ``(R, k)`` each, padded with -1.
    """
    if not in_order:
        by_index = torch.where(i >= 0, i, torch.iinfo(torch.long).max).argsort(dim=1, stable=True)
        p, i = p.gather(1, by_index), i.gather(1, by_index)
    order = p.argsort(dim=1, descending=True, stable=True)[:, :k]  # (R, k)
    p, i = p.gather(1, order), i.gather(1, order)
    if p.shape[1] < k:
        pad = k - p.shape[1]
        p = torch.nn.functional.pad(p, (0, pad), value=-1.0)
        i = torch.nn.functional.pad(i, (0, pad), value=-1)
    return p, i


def finish(out: Path, plan, top_k: int, threshold: float, blocks: int) -> dict:
    """Merge every part into ``hits.tsv``, ``top_partners.tsv``, the summary and histogram."""
    parts = list(saved_parts(out))
    spans = {}
    for hits, part in parts:
        starts = [0, *part.ends[:-1]]
        spans.update(
            {b: (hits, s, e) for b, s, e in zip(part.blocks, starts, part.ends, strict=True)}
        )
    missing = sorted(set(range(blocks)) - set(spans))
    if missing:
        raise InputError(f"{out}: blocks {missing[:5]} were not scored; run the same command again")
    merged = Part.empty(len(plan.ids), top_k)
    for _, part in parts:
        merged.top_p, merged.top_i = ranked(
            torch.cat([merged.top_p, part.top_p], 1),
            torch.cat([merged.top_i, part.top_i], 1),
            top_k,
        )
        merged.hist += part.hist
        merged.hits, merged.scored = merged.hits + part.hits, merged.scored + part.scored
        merged.seconds += part.seconds
    atomic_write(out / HITS, lambda handle: _copy_spans(handle, [spans[b] for b in range(blocks)]))
    atomic_write_text(out / TOP, "".join(_top_lines(plan.ids, merged)))
    summary = _summary(plan, merged, top_k, threshold)
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    plot_histogram(merged.hist, threshold, out / HISTOGRAM)
    shutil.rmtree(out / PARTS)
    (out / RECORD).unlink(missing_ok=True)
    for stale in out.glob("prefilter*.safetensors"):
        stale.unlink()
    return summary


def _copy_spans(handle, spans: list[tuple[Path, int, int]]) -> None:
    files: dict[Path, object] = {}
    try:
        for path, start, end in spans:
            source = files.setdefault(path, open(path, "rb"))  # noqa: SIM115 (closed below)
            source.seek(start)
            handle.write(source.read(end - start))
    finally:
        for source in files.values():
            source.close()


def _summary(plan, merged: Part, top_k: int, threshold: float) -> dict:
    return {
        "pairs": plan.total,
        "pairs_scored": merged.scored,
        "pairs_skipped": plan.total - merged.scored,
        "proteins": len(plan.ids),
        "mode": "all-vs-all" if plan.all_vs_all else "rows-vs-columns",
        "hits": merged.hits,
        "threshold": threshold,
        "top_k": top_k,
        "seconds": round(merged.seconds, 3),
        "pairs_per_second": round(merged.scored / max(merged.seconds, 1e-9), 1),
        "histogram": {"bins": BINS, "counts": merged.hist.tolist()},
    }


def _top_lines(ids: list[str], state: Part) -> Iterator[str]:
    yield "id\trank\tpartner\tprobability\n"
    for n, (ps, js) in enumerate(zip(state.top_p.tolist(), state.top_i.tolist(), strict=True)):
        for rank, (p, j) in enumerate(zip(ps, js, strict=True), start=1):
            if j >= 0:
                yield f"{ids[n]}\t{rank}\t{ids[j]}\t{p:.6f}\n"


def plot_histogram(hist: torch.Tensor, threshold: float, path: Path) -> None:
    """A bar chart of how the screened pairs' probabilities spread, with the threshold."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    edges = torch.linspace(0, 1, len(hist) + 1)
    ax.bar(edges[:-1].tolist(), hist.tolist(), width=1 / len(hist), align="edge", color="#4477aa")
    ax.axvline(threshold, color="#cc3311", linestyle="--", label=f"threshold {threshold:g}")
    ax.set_yscale("log")
    ax.set_xlabel("interaction probability")
    ax.set_ylabel("pairs")
    ax.set_title(f"{int(hist.sum()):,} screened pairs")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    atomic_write(path, buf.getvalue())
