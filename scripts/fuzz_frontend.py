"""Mutation fuzzing of the .tflite frontend: every input must parse or raise `ModelFormatError`.

    .venv/bin/python scripts/fuzz_frontend.py --n 100000 --workers 2

Mutates the committed TF-converted fixtures (byte flips, interesting 32-bit values written at random
offsets -- the way offsets and vector lengths get corrupted --, splices, truncations, insertions), then
runs the whole `inspect` path (parse + featurise + report) in-process. Prints a tally and the slowest input.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from perfsage.errors import ModelFormatError  # noqa: E402
from perfsage.graph import load_graph  # noqa: E402
from perfsage.graph.report import inspect_report  # noqa: E402
from perfsage.process_pool import process_pool  # noqa: E402

INTERESTING = (0, 1, 2, 4, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
               0xFFFFFFF0, 0x10000, 0x1000000)


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        kind = rng.randrange(6)
        pos = rng.randrange(max(len(buf) - 4, 1))
        if kind == 0:
            buf[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:
            struct.pack_into("<I", buf, pos & ~3, rng.choice(INTERESTING))
        elif kind == 2:
            struct.pack_into("<I", buf, pos & ~3, rng.getrandbits(32))
        elif kind == 3:
            buf = buf[:pos]
        elif kind == 4:
            buf[pos:pos] = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 16)))
        else:
            other = rng.randrange(len(buf))
            n = rng.randrange(1, 64)
            buf[pos:pos + n] = buf[other:other + n]
        if len(buf) < 8:
            break
    return bytes(buf)


def check(data: bytes) -> str:
    """'ok' or 'rejected'; anything else escapes as an exception (a bug)."""
    try:
        inspect_report(load_graph(data))
        return "ok"
    except ModelFormatError:
        return "rejected"


def worker(args: tuple[int, int, int]) -> dict:
    seed, n, _ = args
    rng = random.Random(seed)
    seeds = sorted((ROOT / "tests" / "fixtures" / "tf").glob("*.tflite"))
    models = [p.read_bytes() for p in seeds]
    tally = {"ok": 0, "rejected": 0, "bugs": [], "slowest_s": 0.0}
    for _ in range(n):
        data = mutate(rng.choice(models), rng)
        t0 = time.perf_counter()
        try:
            tally[check(data)] += 1
        except Exception as e:
            tally["bugs"].append(f"{type(e).__name__}: {e}")
        tally["slowest_s"] = max(tally["slowest_s"], time.perf_counter() - t0)
    return tally


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    per = -(-a.n // a.workers)
    t0 = time.time()
    with process_pool(a.workers) as ex:
        results = list(ex.map(worker, [(a.seed * 1000 + i, per, i) for i in range(a.workers)]))
    ok = sum(r["ok"] for r in results)
    rej = sum(r["rejected"] for r in results)
    bugs = [b for r in results for b in r["bugs"]]
    slow = max(r["slowest_s"] for r in results)
    print(f"inputs {ok + rej + len(bugs)}  parsed {ok}  rejected {rej}  other exceptions {len(bugs)}  "
          f"slowest {slow * 1000:.1f} ms  wall {time.time() - t0:.0f} s")
    for b in sorted(set(bugs))[:20]:
        print("  BUG", b)
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
