"""Worker pools whose workers die with their parent.

A ProcessPoolExecutor worker outlives a parent killed by a signal it cannot handle (SIGKILL, or SIGTERM
from a job scheduler or `pkill`): it finishes the job it holds, and the ones already queued to it, then
hangs. A benchmark job runs for half an hour and writes its own record, so such an orphan competes for
the cores with the rerun that was meant to replace it, and skews the rerun's timed budget.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

POLL_SECONDS = 1.0


def process_pool(workers: int, spawn: bool = False) -> ProcessPoolExecutor:
    """A pool of `workers` processes that exit within POLL_SECONDS of their parent's death. spawn: fresh
    interpreters, for parents holding torch's thread pools (a forked child inherits them)."""
    context = mp.get_context("spawn") if spawn else None
    return ProcessPoolExecutor(workers, mp_context=context, initializer=exit_with_parent,
                               initargs=(os.getpid(),))


def exit_with_parent(parent: int) -> None:
    """Pool initializer: a watcher thread that ends this worker once `parent` is no longer its parent
    (an orphan is re-parented to init or a subreaper)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def connect_ray(address: str, workers: int):
    """The ray module, connected: to the cluster at address, or a local one of `workers` CPUs ("local")."""
    from perfsage.errors import PerfsageError

    try:
        import ray
    except ImportError:
        raise PerfsageError("--ray needs Ray: pip install 'perfsage[ray]'") from None
    if not ray.is_initialized():
        if address == "local":
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    return ray
