"""A pool worker must not outlive a parent killed with SIGKILL (an orphaned benchmark job would compete
with its own rerun for the cores)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from perfsage.process_pool import POLL_SECONDS

# A parent that gives its one worker a long job, waits until the job has started, then SIGKILLs itself.
PARENT = textwrap.dedent("""
    import os, signal, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from perfsage.process_pool import process_pool

    def job(path):
        with open(path, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)

    if __name__ == "__main__":
        path = sys.argv[2]
        pool = process_pool(1) if sys.argv[1] == "process_pool" else ProcessPoolExecutor(1)
        pool.submit(job, path)
        while not os.path.exists(path) or not open(path).read():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
""")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # an exited orphan is a zombie until init reaps it
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(") ")[-1].startswith("Z"))


def orphan_after_parent_killed(pool: str, tmp_path: Path) -> bool:
    """Whether the worker is still running 3 poll periods after its parent was SIGKILLed."""
    script, pid_file = tmp_path / "parent.py", tmp_path / "worker.pid"
    script.write_text(PARENT)
    done = subprocess.run([sys.executable, str(script), pool, str(pid_file)], timeout=60)
    assert done.returncode == -signal.SIGKILL
    worker = int(pid_file.read_text())
    try:
        deadline = time.time() + 3 * POLL_SECONDS
        while time.time() < deadline and alive(worker):
            time.sleep(0.1)
        return alive(worker)
    finally:
        if alive(worker):
            os.kill(worker, signal.SIGKILL)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX re-parenting")
def test_worker_exits_when_parent_is_killed(tmp_path: Path) -> None:
    assert not orphan_after_parent_killed("process_pool", tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX re-parenting")
def test_a_plain_pool_worker_outlives_its_killed_parent(tmp_path: Path) -> None:
    # the failure process_pool exists for: without the watcher the job runs on
    assert orphan_after_parent_killed("plain", tmp_path)
