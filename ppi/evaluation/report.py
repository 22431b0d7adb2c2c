"""``report.md`` of a run directory: config, data and split, metrics with baselines, curves.

:func:`finish_run` is what training calls after the test evaluation: it adds
the baselines and realistic-prevalence metrics, then writes the report.
:func:`write_run_report` can be called again at any time (``ppi evaluate``
and ``ppi ablate`` do) and only reads what is in the folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ppi.data.leakage import CLASSES
from ppi.data.pairs import read_pairs
from ppi.data.split_report import REPORT, overlap
from ppi.evaluation.metrics import load_metrics
from ppi.utils.files import atomic_write_text

REPORT_FILE = "report.md"
PLOTS = (
    ("test_baselines_pr.png", "precision-recall, model and baselines"),
    ("test_calibration.png", "calibration (reliability diagram)"),
    ("test_roc.png", "ROC"),
    ("test_pr.png", "precision-recall"),
    ("test_confusion.png", "confusion matrix"),
    ("loss_curves.png", "training curves"),
)
#: (metrics key, column title) of the metrics table
COLUMNS = (
    ("aupr", "AUPR"),
    ("auroc", "AUROC"),
    ("f1", "F1"),
    ("mcc", "MCC"),
    ("ece", "ECE"),
    ("realistic_aupr", "AUPR @prev"),
    ("realistic_precision", "precision @prev"),
    ("realistic_ece", "ECE @prev"),
)


def finish_run(run_dir: Path, config, data, labels, probs) -> None:
    """After a run's test evaluation: baselines (pair task) and ``report.md``."""
    from ppi.evaluation.baselines import compare_with_baselines

    if config.task == "pair":
        test = data.splits["test"]
        both = (data.splits["train"], test, data.proteins)
        result = compare_with_baselines(run_dir, labels, probs, both, config.evaluation)
        print(baseline_line(result))
    write_run_report(run_dir)


def baseline_line(result: dict) -> str:
    """One line: the model's AUPR, each baseline's, and the lift."""
    parts = [f"model aupr={result['aupr']:.4f} (at 1 in {1 / result['realistic_prevalence']:.0f}:"]
    parts[0] += f" {result['realistic_aupr']:.4f}, ece={result['ece']:.4f})"
    for name, base in result["baselines"].items():
        parts.append(f"{name} aupr={base['aupr']:.4f} (lift {base['lift']['aupr_lift']:.2f}x)")
    if result.get("strongest"):
        parts.append(f"strongest: {result['strongest']['name']}")
    return "baselines: " + "; ".join(parts)


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _table(head: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]


def _config_section(run_dir: Path) -> list[str]:
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    channels = [n for n, c in cfg.get("channels", {}).items() if c.get("enabled")]
    b, f, t = cfg["backbone"], cfg["fusion"], cfg["train"]
    rows = [
        ["task", cfg["task"]],
        ["channels", ", ".join(channels)],
        ["backbone", f"{b['name']} (finetune {b.get('finetune')}, dim {b.get('dim', '-')})"],
        [
            "fusion",
            f"dim {f['dim']}, heads {f['heads']}, latents {f['latents']}, "
            f"layers {f['encoder_layers']}+{f['pair_layers']}, dropout {f['dropout']}",
        ],
        [
            "training",
            f"{t['epochs']} epochs, batch {t['batch_size']}, lr {t['lr']}, seed {cfg['seed']}",
        ],
    ]
    return ["## Config", "", *_table(["", ""], rows), "", "Full config: [config.yaml](config.yaml)"]


def _validation_line(data: dict) -> str:
    """Which validation set chose the best epoch."""
    if data.get("valid"):
        return f"Validation: the pairs of `{data['valid']}`."
    if data.get("valid_split", "random") == "c3":
        return (
            "Validation: `data.valid_split=c3`, pairs of proteins that training never sees "
            "(model selection on unseen proteins)."
        )
    return "Validation: `data.valid_split=random`, random pairs whose proteins training sees."


def _split_section(run_dir: Path) -> list[str]:
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    lines = [
        "## Data and split",
        "",
        f"Sequences: `{cfg['data']['fasta']}`; "
        f"training pairs: `{cfg['data']['train']}` (limit {cfg['data']['limit'] or 'none'}).",
        "",
        _validation_line(cfg["data"]),
    ]
    parts = {p.stem: read_pairs(p) for p in sorted((run_dir / "splits").glob("*.tsv"))}
    if "train" not in parts:
        return lines
    head = ["part", "pairs", "positives", "pos. fraction", "proteins", "shared w/ train", *CLASSES]
    rows = []
    for name in ("train", "valid", "test"):
        if name in parts:
            o = overlap(parts["train"], parts[name], {}, None, None)
            rows.append(
                [
                    name,
                    o["pairs"],
                    o["positives"],
                    o["positive_fraction"],
                    o["proteins"],
                    o["shared_fraction"],
                    *(o["classes"][c] for c in CLASSES),
                ]
            )
    lines += ["", *_table(head, rows)]
    made_by = Path(cfg["data"]["train"]).parent / REPORT
    if made_by.is_file():
        rep = json.loads(made_by.read_text())
        near = rep["held_out"].get("test", {}).get("nearest_identity")
        if near:
            lines += [
                "",
                "In that split (before any data.limit), test proteins' nearest training "
                f"protein ({rep['measure']} identity): "
                f"median {near['median']:.3f}, at or above {rep['threshold']}: "
                f"{near['at_or_above_threshold']:.1%} of proteins.",
            ]
        lines += [
            "",
            f"Split made by `ppi split --method {rep['method']}` (similarity "
            f"{rep['measure']}, threshold {rep['threshold']}); its report: `{made_by}`.",
        ]
    return lines


def _metrics_section(run_dir: Path) -> list[str]:
    if not (run_dir / "metrics.json").is_file():
        return []
    metrics = load_metrics(run_dir / "metrics.json")
    test = metrics.get("test")
    if not test:
        return ["## Metrics", "", "No test metrics yet."]
    rows = [["model", *(test.get(k) for k, _ in COLUMNS)]]
    baselines = metrics.get("test_baselines", {})
    rows += [[name, *(b.get(k) for k, _ in COLUMNS)] for name, b in baselines.items()]
    lines = ["## Metrics (test)", "", *_table(["", *(t for _, t in COLUMNS)], rows)]
    if "realistic_prevalence" in test:
        prev = test["realistic_prevalence"]
        lines += [
            "",
            f"`@prev`: negatives reweighted so positives are {prev:g} of pairs "
            f"(1 in {1 / prev:.0f}), probabilities shifted to that prior; the test "
            f"set's own positive fraction is {test['positive_fraction']:.3f}.",
        ]
    for name, b in baselines.items():
        lf = b["lift"]
        lines.append(
            f"- lift over {name}: AUPR x{_fmt(lf['aupr_lift'])} "
            f"({lf['aupr_gain']:+.4f}), AUROC {lf['auroc_gain']:+.4f}"
        )
    best = metrics.get("test_strongest_baseline")
    if best:
        lines.append(
            f"- strongest baseline: {best['name']} (highest test AUPR); the model's lift over it: "
            f"AUPR x{_fmt(best['aupr_lift'])} ({best['aupr_gain']:+.4f})"
        )
    choice = baselines.get("composition", {}).get("choice")
    if choice:
        lines.append(
            f"- composition baseline chosen on protein-disjoint folds ({choice['cv_folds']}): "
            f"{choice['features']}, {'standardised' if choice['standardised'] else 'unscaled'}, "
            f"C={choice['C']:g}"
        )
    return lines


def _curves_section(run_dir: Path) -> list[str]:
    shown = [(f, t) for f, t in PLOTS if (run_dir / f).is_file()]
    return ["## Curves", ""] + [f"![{t}]({f})" for f, t in shown] if shown else []


def write_run_report(run_dir: str | Path, extra: list[str] | None = None) -> Path:
    """Write ``report.md`` from what the run directory holds; ``extra`` lines go at the end."""
    run_dir = Path(run_dir)
    lines = [f"# {run_dir.name}", ""]
    if (run_dir / "config.yaml").is_file():
        lines += [*_config_section(run_dir), "", *_split_section(run_dir), ""]
    lines += [*_metrics_section(run_dir), "", *_curves_section(run_dir)]
    for name in ("ablation.md", "masking.md"):
        if (run_dir / name).is_file():
            lines += ["", (run_dir / name).read_text().replace("# ", "## ", 1)]
    lines += extra or []
    return atomic_write_text(run_dir / REPORT_FILE, "\n".join(lines).rstrip() + "\n")
