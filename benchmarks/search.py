"""Search with the proxy against search with the simulator, at equal wall-clock (issue 39).

    .venv/bin/python benchmarks/search.py [--seconds 12] [--seeds 2] [--space classification]
        [--targets ethos-u55-128,ethos-u65-256] [--agents random,evolution,bo,aco,rl] [--stop-after 3000]

Every (target, budget set, agent, seed) is searched twice for --seconds of wall-clock: with the proxy
(perfsage's predictor, candidates built in 2 processes, the network on 2 threads) and with the simulator
(Vela in 2 isolated workers). Each run's 3 best designs are written and re-measured with Vela: the best
objective re-measured is the largest of those that truly fit, and the share that fits is over all of
them. For proxy runs, --check designs drawn evenly from the visited ones are also measured by Vela (2
workers), which gives the proxy's error on the designs the search visited and the time Vela takes per
design on 2 cores, against the proxy's time per design. Runs are appended to docs/results/search_runs.jsonl as
they finish, so a killed or --stop-after run goes on where it stopped; the page is rewritten from every
run recorded. Writes docs/results/search.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from _results import publish  # noqa: E402
from perfsage.journal import append_records, read_records  # noqa: E402

# MCUNet's MCU (320 KB SRAM, 1 MB flash) with a 10 ms frame, and a roomier set four times as large
BUDGETS = {"mcu": {"latency_ms": 10.0, "sram_kib": 320.0, "flash_kib": 1024.0},
           "large": {"latency_ms": 40.0, "sram_kib": 1280.0, "flash_kib": 4096.0}}
RECORD = ROOT / "docs" / "results" / "search_runs.jsonl"  # the page's data; a rerun resumes from it
COSTS = ("proxy", "simulator")


def run_one(space: str, target: str, budget_name: str, agent: str, seed: int, cost_kind: str, seconds: float,
            check: int, workdir: Path) -> dict:
    from perfsage.search.agents import get_agent
    from perfsage.search.budget import Budget
    from perfsage.search.cost import SimulatorCost, cost_model
    from perfsage.search.env import SearchEnv, best_visits
    from perfsage.search.run import verify
    from perfsage.spaces.base import ArchSpec

    budget = Budget(BUDGETS[budget_name], "macs")
    cost = cost_model(cost_kind, target, None, workers=2)
    env = SearchEnv(space, cost, budget, None, None, seconds)
    try:
        get_agent(agent, seed).run(env)
    finally:
        cost.close()
    history = [v for v in env.history if v.seconds <= seconds]  # equal wall-clock: the last batch may overrun
    chosen = best_visits(history, "macs", 3)
    out = workdir / f"{target}-{budget_name}-{agent}-{seed}-{cost_kind}"
    out.mkdir(parents=True, exist_ok=True)
    designs = verify(chosen, space, target, budget, out, measure=True)
    rec = {"space": space, "target": target, "budget": budget_name, "agent": agent, "seed": seed,
           "cost": cost_kind, "seconds": seconds, "evaluations": len(history),
           "unique": cost.timings.evaluations, "cost_ms": cost.timings.per_evaluation_ms(),
           "fitting_visits": sum(v.fits for v in history),
           "designs": [{"objective": d.objective["macs"], "fits": d.fits, "predicted": d.predicted,
                        "measured": d.measured} for d in designs]}
    if cost_kind == "proxy" and check and history:
        picks = [history[int(i)] for i in np.unique(np.linspace(0, len(history) - 1, check).round())]
        sim = SimulatorCost(target, workers=2)
        try:
            t0 = time.perf_counter()
            measured = sim.evaluate([ArchSpec(space, v.arch) for v in picks])
            rec["vela_ms_per_design_2cores"] = 1000 * (time.perf_counter() - t0) / len(picks)
        finally:
            sim.close()
        rec["check"] = [{"predicted": v.evaluation.values, "measured": m.values} for v, m in zip(picks, measured,
                                                                                                strict=True)
                        if not m.error]
    return rec


def best_measured(rec: dict) -> float:
    """The largest re-measured design that truly fits (0: none did)."""
    return max((d["objective"] for d in rec["designs"] if d["fits"]), default=0.0)


def summarise(records: list[dict]) -> str:
    lines = []
    agents = sorted({r["agent"] for r in records})
    targets = sorted({r["target"] for r in records})
    budgets = sorted({r["budget"] for r in records})
    # 1. best objective re-measured, proxy vs simulator, per agent (mean over seeds)
    lines += ["## Best design found, re-measured by Vela (MMACs, mean over seeds)", "",
              "| target | budget | agent | proxy | simulator | proxy / simulator | seeds |",
              "|---|---|---|---:|---:|---:|---:|"]
    for t in targets:
        for b in budgets:
            for a in agents:
                got = {c: [best_measured(r) / 1e6 for r in records if (r["target"], r["budget"], r["agent"],
                                                                      r["cost"]) == (t, b, a, c)] for c in COSTS}
                if not got["proxy"] or not got["simulator"]:
                    continue
                p, s = np.mean(got["proxy"]), np.mean(got["simulator"])
                lines.append(f"| {t} | {b} | {a} | {p:.1f} | {s:.1f} | {p / s if s else float('inf'):.2f}x | "
                             f"{min(len(got['proxy']), len(got['simulator']))} |")
    # 2. fits
    designs = [(r["cost"], d) for r in records for d in r["designs"]]
    lines += ["", "## Reported designs that fit when re-measured", "", "| cost model | designs | fit | share |",
              "|---|---:|---:|---:|"]
    for c in COSTS:
        ds = [d for cc, d in designs if cc == c]
        if ds:
            fit = sum(bool(d["fits"]) for d in ds)
            lines.append(f"| {c} | {len(ds)} | {fit} | {100 * fit / len(ds):.1f}% |")
    # 3. proxy accuracy on visited designs
    checks = [(r["target"], c) for r in records if r["cost"] == "proxy" for c in r.get("check", [])]
    if checks:
        lines += ["", "## The proxy on the designs the searches visited (measured by Vela)", "",
                  "| target | metric | designs | MAPE % | RMSPE % | RMSE |", "|---|---|---:|---:|---:|---:|"]
        for t in targets:
            for m in BUDGETS["mcu"]:
                pairs = np.array([(c["predicted"][m], c["measured"][m]) for tt, c in checks
                                  if tt == t and m in c["measured"]])
                if len(pairs):
                    err = (pairs[:, 0] - pairs[:, 1]) / pairs[:, 1]
                    lines.append(f"| {t} | {m} | {len(pairs)} | {100 * np.mean(np.abs(err)):.2f} | "
                                 f"{100 * np.sqrt(np.mean(err ** 2)):.2f} | "
                                 f"{np.sqrt(np.mean((pairs[:, 0] - pairs[:, 1]) ** 2)):.3g} |")
    # 4. time per evaluation
    proxy = [r for r in records if r["cost"] == "proxy" and r["unique"]]
    sim = [r for r in records if r["cost"] == "simulator" and r["unique"]]
    if proxy:
        lines += ["", "## Time per evaluation (2 CPU cores each)", "",
                  "| target | proxy ms / design (graph + network) | Vela ms / design, same designs | ratio | "
                  "simulator-run ms / design | evaluations in a run: proxy / simulator |",
                  "|---|---:|---:|---:|---:|---:|"]
        for t in targets:
            pr = [r for r in proxy if r["target"] == t]
            sr = [r for r in sim if r["target"] == t]
            if not pr:
                continue
            p_ms = sum(r["cost_ms"]["total"] * r["unique"] for r in pr) / sum(r["unique"] for r in pr)
            g_ms = sum(r["cost_ms"].get("graph", 0) * r["unique"] for r in pr) / sum(r["unique"] for r in pr)
            n_ms = sum(r["cost_ms"].get("network", 0) * r["unique"] for r in pr) / sum(r["unique"] for r in pr)
            vela = [r["vela_ms_per_design_2cores"] for r in pr if "vela_ms_per_design_2cores" in r]
            v_ms = float(np.mean(vela)) if vela else float("nan")
            s_ms = (sum(r["cost_ms"]["total"] * r["unique"] for r in sr) / sum(r["unique"] for r in sr)
                    if sr else float("nan"))
            ev = f"{np.mean([r['evaluations'] for r in pr]):.0f} / " + (
                f"{np.mean([r['evaluations'] for r in sr]):.0f}" if sr else "-")
            lines.append(f"| {t} | {p_ms:.1f} ({g_ms:.1f} + {n_ms:.1f}) | {v_ms:.0f} | {v_ms / p_ms:.0f}x | "
                         f"{s_ms:.0f} | {ev} |")
        lines += ["", "Where the proxy's time goes: *graph* is the candidate from its choices to the encoded graph "
                  "(the space's builder in dry mode, then features and encoding: pure Python, per operator, in "
                  "2 processes); *network* is PerfSAGE's forward pass over every operator of a batch (2 threads, "
                  "compute-bound). Proxy times are per design it costed; repeats of a design cost nothing and "
                  "are not counted."]
    # 5. does the agent matter
    if proxy:
        lines += ["", "## How much the agent matters (proxy runs: best re-measured MMACs, mean and spread over seeds)",
                  "", "Each agent at its default settings (population or batch 32; TPE with 32 random "
                  "start-up trials, 8 per batch; ACO 8 levels per gene; PPO 4 steps of 32 per update), not "
                  "tuned per budget.", "",
                  "| target | budget | " + " | ".join(agents) + " |", "|---|---|" + "---:|" * len(agents)]
        for t in targets:
            for b in budgets:
                cells = []
                for a in agents:
                    v = [best_measured(r) / 1e6 for r in proxy if (r["target"], r["budget"], r["agent"]) == (t, b, a)]
                    cells.append(f"{np.mean(v):.1f} ± {np.std(v):.1f}" if v else "-")
                lines.append(f"| {t} | {b} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", default="classification")
    ap.add_argument("--targets", default="ethos-u55-128,ethos-u65-256")
    ap.add_argument("--agents", default="random,evolution,bo,aco,rl")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--check", type=int, default=6, help="visited designs per proxy run measured by Vela")
    ap.add_argument("--stop-after", type=float, default=None, help="stop starting runs after this many seconds")
    ap.add_argument("--page-only", action="store_true", help="rewrite the page from the recorded runs")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t_start = time.perf_counter()
    workdir = ROOT / "runs" / "search_bench"
    done = {(r["target"], r["budget"], r["agent"], r["seed"], r["cost"]) for r in read_records(RECORD)}
    if not args.page_only:
        for seed in range(args.seeds):
            for target in args.targets.split(","):
                for budget in BUDGETS:
                    for agent in args.agents.split(","):
                        for cost in COSTS:
                            key = (target, budget, agent, seed, cost)
                            if key in done:
                                continue
                            if args.stop_after and time.perf_counter() - t_start > args.stop_after:
                                print("stopping (--stop-after); rerun to go on", flush=True)
                                break
                            rec = run_one(args.space, target, budget, agent, seed, cost, args.seconds, args.check,
                                          workdir)
                            append_records(RECORD, [rec])
                            print(f"{key}: {rec['evaluations']} evaluations, best re-measured "
                                  f"{best_measured(rec) / 1e6:.1f} MMACs, fits "
                                  f"{[d['fits'] for d in rec['designs']]}", flush=True)
    records = [r for r in read_records(RECORD) if r["space"] == args.space]
    n_seeds = len({r["seed"] for r in records})
    how = (f"`benchmarks/search.py --seconds {args.seconds:g} --seeds {args.seeds}`: the {args.space} space, "
           f"{len(records)} runs recorded ({n_seeds} seeds), each {args.seconds:g} s of wall-clock per search "
           f"on this 2-core VM; budgets {json.dumps(BUDGETS)}; objective: MACs. Proxy: the shipped predictor, "
           "designs chosen by the upper end of its 90% interval; simulator: Vela in 2 isolated workers. "
           "Every reported design is written as .tflite and re-measured by Vela.")
    publish("search", "Search with the proxy against search with the simulator", how, summarise(records))


if __name__ == "__main__":
    main()
