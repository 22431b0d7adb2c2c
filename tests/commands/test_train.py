import json

import torch

from ppi.cli import run


def _metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())["test"]


def test_training_writes_model_metrics_plots_and_splits(trained_run, capsys):
    for name in (
        "config.yaml",
        "metrics.json",
        "test_roc.png",
        "test_pr.png",
        "test_confusion.png",
        "loss_curves.png",
        "splits/test.tsv",
        "model/config.json",
        "model/model.safetensors",
    ):
        assert (trained_run / name).is_file(), name
    metrics = _metrics(trained_run)
    assert 0.0 <= metrics["aupr"] <= 1.0 and metrics["n"] > 0
    assert (trained_run / "checkpoints" / "epoch_2" / "trainer_state.json").is_file()
    assert list((trained_run / "tensorboard").rglob("events.out.tfevents*")) == []  # log_with=[]


def test_printed_summary(guo_slice, tmp_path, train_args, capsys, caplog):
    fasta, pairs = guo_slice
    assert (
        run(
            train_args(
                fasta,
                pairs,
                tmp_path,
                "train.epochs=1",
                "run_name=r",
                "train.log_with=[tensorboard]",
            )
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "test: aupr=" in out and f"run directory: {tmp_path / 'r'}" in out
    # the pair stage's norm is the fusion's by design: no note about it at each checkpoint
    assert "Removed shared tensor" not in caplog.text
    assert list((tmp_path / "r" / "tensorboard").rglob("events.out.tfevents*"))


def test_resume_after_interruption_gives_the_same_result(guo_slice, tmp_path, train_args):
    fasta, pairs = guo_slice
    full = train_args(fasta, pairs, tmp_path, "train.epochs=3", "run_name=full")
    assert run(full) == 0
    cut = train_args(fasta, pairs, tmp_path, "train.epochs=3", "run_name=cut", "train.stop_after=1")
    assert run(cut) == 0
    assert not (tmp_path / "cut" / "metrics.json").exists()
    assert (tmp_path / "cut" / "checkpoints" / "epoch_1").is_dir()
    assert run(["train", f"resume={tmp_path / 'cut'}", "train.stop_after=0"]) == 0
    assert _metrics(tmp_path / "cut") == _metrics(tmp_path / "full")


def test_single_sequence_task_on_bcr_slice(tmp_path, train_args):
    args = train_args(
        "unused.fasta",
        "example:bcr_antibody/train.parquet",
        tmp_path,
        "task=single",
        "data.test=example:bcr_antibody/test.parquet",
        "data.label_column=target",
        "data.limit=120",
        "train.epochs=1",
        "run_name=bcr",
    )
    assert run(args) == 0
    metrics = _metrics(tmp_path / "bcr")
    assert {"accuracy", "auroc", "macro_f1"} <= set(metrics)
    saved = json.loads((tmp_path / "bcr" / "model" / "config.json").read_text())
    assert saved["class_names"] == ["HIV-1", "SARS-CoV2"]


def _train_in(precision: str, args: list[str], monkeypatch) -> int:
    """Train as ``accelerate launch --mixed_precision PRECISION`` does, through its variable."""
    from accelerate.state import AcceleratorState

    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", precision)
    # Accelerate keeps one state per process: forget the earlier tests' precision.
    AcceleratorState._reset_state(reset_partial_state=True)
    try:
        return run(args)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


def test_mixed_precision_trains_in_bf16_and_keeps_fp32_weights(
    guo_slice, tmp_path, train_args, monkeypatch
):
    """``accelerate launch --mixed_precision bf16`` (here through its env variable) on CPU.

    The forward pass runs under autocast (the head's logits come out in
    bfloat16), the saved weights stay float32 and the metrics are finite. On
    GPUs the same path runs with fp16 or bf16.
    """
    import math

    from safetensors.torch import load_file

    from ppi.fusion.heads import PairHead

    seen = []
    forward = PairHead.forward

    def spy(self, ha, hb, evidence=None):
        out = forward(self, ha, hb, evidence)
        seen.append(out.dtype)
        return out

    monkeypatch.setattr(PairHead, "forward", spy)
    fasta, pairs = guo_slice
    args = train_args(fasta, pairs, tmp_path, "train.epochs=1", "run_name=bf16")
    assert _train_in("bf16", args, monkeypatch) == 0
    assert seen and set(seen) == {torch.bfloat16}
    weights = load_file(str(tmp_path / "bf16" / "model" / "model.safetensors"))
    assert {t.dtype for t in weights.values()} == {torch.float32}
    assert all(
        math.isfinite(v) for v in _metrics(tmp_path / "bf16").values() if isinstance(v, float)
    )


def test_precision_the_device_lacks_is_said_not_silently_dropped(
    guo_slice, tmp_path, train_args, monkeypatch
):
    """fp16 autocast needs a GPU: on CPU Accelerate trains in float32 and says nothing."""
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("ppi").addHandler(handler)
    fasta, pairs = guo_slice
    args = train_args(fasta, pairs, tmp_path, "train.epochs=1", "run_name=fp16")
    try:
        assert _train_in("fp16", args, monkeypatch) == 0
    finally:
        logging.getLogger("ppi").removeHandler(handler)
    said = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert "mixed precision fp16 is not available on cpu: training in float32" in said
