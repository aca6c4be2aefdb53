"""Run the validity gates over many seeds per space and record the tally in docs/results/validity.md.

    .venv/bin/python scripts/check_spaces.py --seeds 50 --workers 2

Gates per model (perfsage.targets.gates): the int8 spec rules, LiteRT allocate + invoke, TFLite Micro
invoke (subprocess), Vela for ethos-u55-128 (subprocess) with 0 CPU operators.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from perfsage.process_pool import process_pool  # noqa: E402
from perfsage.spaces import GENERATOR_VERSION, get_space, space_names  # noqa: E402
from perfsage.targets.gates import run_gates  # noqa: E402


def check(job: tuple[str, int]) -> tuple[str, int, bool, str]:
    name, seed = job
    _, data = get_space(name).synth(seed)
    rep = run_gates(data)
    why = "" if rep.ok else f"{rep.spec_errors[:2]} litert={rep.litert[:80]} tflm={rep.tflm[:80]} " \
                            f"vela={rep.vela[:80]} cpu_ops={rep.vela_cpu_ops}"
    return name, seed, rep.ok, why


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--spaces", default=",".join(space_names()))
    a = ap.parse_args()
    names = a.spaces.split(",")
    jobs = [(n, a.first_seed + i) for n in names for i in range(a.seeds)]
    t0 = time.time()
    with process_pool(a.workers) as ex:
        results = list(ex.map(check, jobs))
    lines = ["| space | models | pass all gates | failures |", "|---|---:|---:|---|"]
    bad = 0
    for n in names:
        rs = [r for r in results if r[0] == n]
        fails = [f"seed {s}: {w}" for _, s, ok, w in rs if not ok]
        bad += len(fails)
        lines.append(f"| {n} | {len(rs)} | {sum(r[2] for r in rs)} | {'; '.join(fails[:3])} |")
    text = "\n".join(lines)
    print(text)
    print(f"{len(jobs)} models in {time.time() - t0:.0f} s")
    (ROOT / "docs" / "results" / "validity.md").write_text(
        "# Validity gates of the synthesised models\n\n"
        f"`scripts/check_spaces.py --seeds {a.seeds} --first-seed {a.first_seed}` (generator v{GENERATOR_VERSION}). "
        "Gates: int8 spec rules (`perfsage.spaces.validate.spec_errors`), LiteRT allocate + invoke, "
        "TFLite Micro invoke, Vela 5 for ethos-u55-128 with 0 CPU operators. No space includes "
        "CPU-fallback operators by design.\n\n" + text + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
