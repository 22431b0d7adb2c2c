"""One writer per output: the lock file beside an output, and who holds it."""

import os
import subprocess
import sys
import threading
import time

import pytest
import torch

from ppi.utils.cache import EmbeddingCache
from ppi.utils.locks import OutputLockedError, exclusive, exclusive_across, lock_path


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "new" / "deeper" / "o.tsv"
    with exclusive(out, "--out") as path:
        assert path == tmp_path / "new" / "deeper" / "o.tsv.lock"
        assert path.read_text().startswith(f"{os.getpid()}\t")
        with pytest.raises(OutputLockedError) as refused:
            with exclusive(out, "--out"):
                pytest.fail("two holders")
        message = str(refused.value)
        assert f"--out {out}" in message and f"pid {os.getpid()}" in message
        assert path.exists()  # the refused one leaves the holder's file alone
    assert not lock_path(out).exists()
    assert not (tmp_path / "new").exists()  # folders made only for the lock go too


def test_folders_with_output_in_them_stay(tmp_path):
    out = tmp_path / "made" / "o.tsv"
    with exclusive(out):
        out.write_text("rows\n")
    assert out.read_text() == "rows\n" and not lock_path(out).exists()


def test_the_file_of_a_killed_holder_is_taken_over(tmp_path):
    out = tmp_path / "o.tsv"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from ppi.utils.locks import exclusive\n"
            "with exclusive(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(OutputLockedError, match=f"pid {holder.pid}"):
        with exclusive(out):
            pass
    holder.kill()  # kill -9: the file stays, the lock goes with the process
    holder.wait()
    assert lock_path(out).exists()
    with exclusive(out) as path:
        assert path.read_text().startswith(f"{os.getpid()}\t")


def test_waiting_for_the_holder(tmp_path):
    out = tmp_path / "o.tsv"
    order = []
    holder = exclusive(out)
    holder.__enter__()

    def second():
        with exclusive(out, wait=True):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.2)
    order.append("first done")
    holder.__exit__(None, None, None)
    thread.join(5)
    assert order == ["first done", "second"]


class _OneProcess:
    num_processes = 1
    is_main_process = True


def test_one_process_run_holds_the_lock(tmp_path):
    with exclusive_across(tmp_path / "run", "run directory", _OneProcess()):
        with pytest.raises(OutputLockedError, match=f"pid {os.getpid()}"):
            with exclusive(tmp_path / "run"):
                pass


def test_a_cache_entry_being_written_elsewhere_is_waited_for_not_computed(tmp_path, until):
    cache = EmbeddingCache("producer", tmp_path)
    computed = []

    def compute(batch):
        computed.extend(batch)
        return [torch.full((2,), float(len(s))) for s in batch]

    other = exclusive(cache.path("MKB"))  # another process is writing this entry
    other.__enter__()
    fill = threading.Thread(target=cache.fill, args=(["MKA", "MKB"], compute, lambda s: [s]))
    fill.start()
    until(lambda: computed)
    assert computed == ["MKA"] and fill.is_alive()  # waits for the entry it skipped
    cache.put("MKB", torch.zeros(2))  # the other process finishes its entry
    other.__exit__(None, None, None)
    fill.join(5)
    assert computed == ["MKA"] and cache.get("MKB").tolist() == [0.0, 0.0]
    assert not list(tmp_path.rglob("*.lock"))


def test_an_entry_its_writer_left_unfinished_is_computed(tmp_path):
    cache = EmbeddingCache("producer", tmp_path)
    other = exclusive(cache.path("MKB"))
    other.__enter__()
    fill = threading.Thread(
        target=cache.fill, args=(["MKB"], lambda b: [torch.ones(2)] * len(b), lambda s: [s])
    )
    fill.start()
    time.sleep(0.2)
    other.__exit__(None, None, None)  # the other process died before writing it
    fill.join(5)
    assert cache.get("MKB").tolist() == [1.0, 1.0]


def test_a_folder_where_the_lock_goes_is_one_line(tmp_path):
    from ppi.errors import InputError

    (tmp_path / "out.tsv.lock").mkdir()
    with pytest.raises(InputError, match=r"--out .*out.tsv: expected its lock .* got a folder"):
        with exclusive(tmp_path / "out.tsv", "--out"):
            pass
    assert not (tmp_path / "out.tsv").exists()
