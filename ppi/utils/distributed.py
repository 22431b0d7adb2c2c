"""Ending a process of a distributed (``accelerate launch``) run without gloo's teardown."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def end_process(code: int, command: str) -> int:
    """End a process of a distributed run once every process has done its work.

    gloo's C++ teardown is what fails on CPU: destroying a process group (at
    interpreter exit, when a DDP model is freed, or in
    ``destroy_process_group``, which ``Accelerator.end_training`` calls) can
    abort a process whose work had finished ("terminate called without an
    active exception") or hang it in ``~ProcessGroupGloo``. So a distributed
    process waits at a barrier, which every process reaches only after all its
    work and writes, then flushes its
    output and exits at once with ``os._exit``: no gloo object is ever torn
    down, and the operating system closes the sockets. A single process
    returns normally.
    """
    try:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return code
        dist.barrier()
    except RuntimeError as exc:  # a peer already gone: the work itself is done
        print(f"ppi {command}: process group shutdown: {exc}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main_decides(state, check: Callable[[], object], error: type[Exception]) -> None:
    """Run ``check`` on the main process only; if it raises ``error``, every process raises it.

    So a refusal that only the main process can see (a locked output, a folder
    of another run) stops all the processes, and none waits for a peer that
    has stopped.
    """
    refusal = [""]
    if state.is_main_process:
        try:
            check()
        except error as exc:
            refusal[0] = str(exc)
    if state.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        broadcast_object_list(refusal)
    if refusal[0]:
        raise error(refusal[0])
