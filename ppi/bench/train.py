"""Training pairs per second: frozen (cached) or fine-tuned backbone, one or two processes.

Each setting is a real ``ppi train`` run of one epoch on the same pairs, as a
separate process (two CPU processes through ``accelerate launch --multi_gpu``
with ``ACCELERATE_USE_CPU=1``). The rate is the training pairs over the time of
the training pass alone (``train_seconds`` of the epoch, measured by the main
process), so encoding a frozen backbone's embeddings beforehand, validation
and testing do not count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ppi.bench.timing import table, write_report

#: ``python`` arguments that start two CPU processes through Accelerate (as the README says).
TWO_CPU_PROCESSES = [
    "-m",
    "accelerate.commands.launch",
    "--multi_gpu",
    "--num_processes",
    "2",
    "--num_machines",
    "1",
    "--mixed_precision",
    "no",
    "--dynamo_backend",
    "no",
]


def train_once(processes: int, overrides: list[str], work: Path, threads: int) -> dict:
    """One ``ppi train`` epoch; returns pairs, seconds and pairs per second."""
    name = f"p{processes}-{len(list(work.iterdir()))}"
    args = ["train", *overrides, f"output_dir={work}", f"run_name={name}"]
    args.append(f"train.cpu_threads={threads}")
    env = {**os.environ, "PPI_CACHE": str(work / "cache"), "OMP_NUM_THREADS": str(threads)}
    if processes == 2:
        env.update(ACCELERATE_USE_CPU="1", MASTER_PORT=str(29500 + os.getpid() % 1000))
        cmd = [sys.executable, *TWO_CPU_PROCESSES, "-m", "ppi", *args]
    else:
        cmd = [sys.executable, "-m", "ppi", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    run = work / name
    state = json.loads((run / "checkpoints" / "epoch_1" / "trainer_state.json").read_text())
    seconds = state["history"][0]["train_seconds"]
    pairs = sum(1 for line in (run / "splits" / "train.tsv").read_text().splitlines()[1:] if line)
    return {"pairs": pairs, "seconds": seconds, "pairs_per_s": pairs / seconds}


def benchmark(
    base: list[str], threads: int, out: str, processes_list: tuple[int, ...] = (1, 2)
) -> list[dict]:
    """Frozen and fine-tuned, one and two processes; print the table and write JSON."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("frozen", "full"):
            for processes in processes_list:
                work = Path(tmp) / f"{mode}-{processes}"
                work.mkdir()
                overrides = [*base, f"backbone.finetune={mode}", "train.epochs=1"]
                result = train_once(processes, overrides, work, threads)
                rows.append({"backbone": mode, "processes": processes, **result})
    for row in rows:
        ref = next(r for r in rows if r["backbone"] == row["backbone"] and r["processes"] == 1)
        row["vs_one_process"] = row["pairs_per_s"] / ref["pairs_per_s"]
        tuned = next(r for r in rows if r["backbone"] == "full" and r["processes"] == 1)
        row["vs_finetune_one"] = row["pairs_per_s"] / tuned["pairs_per_s"]
    print(table(rows, list(rows[0])))
    write_report(out, "train", rows, {"config": base, "threads_per_process": threads})
    return rows
