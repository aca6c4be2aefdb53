"""The search gym: genomes, dry-built candidates, the environment, the five agents, the CLI and resuming."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli
from perfsage.errors import PerfsageError
from perfsage.graph.encode import GRAPH_FEATURES, NODE_FEATURES, WEIGHT_WORDS, encode
from perfsage.graph.reader import load_graph
from perfsage.search.agents import AGENTS, get_agent
from perfsage.search.budget import Budget
from perfsage.search.cost import ProxyCost, SimulatorCost, candidate, write_design
from perfsage.search.env import SearchEnv, best_visits, pareto_visits
from perfsage.search.genome import Genome
from perfsage.search.run import SearchConfig, search
from perfsage.spaces import get_space
from perfsage.spaces.builder import dry_build

LOOSE = {"latency_ms": 2.0, "sram_kib": 400.0, "flash_kib": 600.0}


@pytest.fixture(scope="module")
def proxy():
    return ProxyCost("ethos-u55-128")


@pytest.mark.parametrize("space", ["classification", "kws", "segmentation", "mixed", "nasbench201", "converter",
                                   "compressed"])
def test_genome_decodes_every_point_deterministically(space):
    genome = Genome.of(space)
    if space in ("converter", "compressed"):  # the base architecture is drawn from the genome too
        assert genome.length > 20
    rng = np.random.default_rng(3)
    for g in [*genome.random(rng, 5), np.zeros(genome.length), np.ones(genome.length)]:
        a = genome.decode(g)
        assert a.space == space and genome.decode(g).to_json() == a.to_json()
    assert len({genome.decode(g).to_json() for g in genome.random(rng, 20)}) >= 15  # the genome matters
    with pytest.raises(ValueError):
        genome.decode(np.zeros(genome.length + 1))


@pytest.mark.parametrize("space", ["classification", "detection", "kws", "segmentation", "mixed", "converter",
                                   "unet", "tinyvision", "nasbench201", "fbnet"])
def test_dry_build_reads_like_the_written_model(space):
    """The IR a dry build gives is the parsed model's: same operators, edges and features, but for the
    weight-value statistics, which come from another draw of the same uniform values."""
    sp = get_space(space)
    stat_cols = [i for i, n in enumerate(NODE_FEATURES) if n in WEIGHT_WORDS]
    other = [i for i in range(len(NODE_FEATURES)) if i not in stat_cols]
    g_other = [i for i, n in enumerate(GRAPH_FEATURES) if "entropy" not in n and "codec" not in n]
    for seed in (11, 12):
        a = sp.sample(seed)
        real = encode(load_graph(sp.build(a, 0)))
        with dry_build():
            graph = sp.build(a, 0)
        dry = encode(graph)
        assert np.array_equal(real.op, dry.op) and np.array_equal(real.edge_index, dry.edge_index)
        np.testing.assert_allclose(dry.x[:, other], real.x[:, other], rtol=0, atol=1e-6)
        np.testing.assert_allclose(dry.g[g_other], real.g[g_other], rtol=0, atol=1e-6)
        np.testing.assert_allclose(dry.x[:, stat_cols], real.x[:, stat_cols], atol=0.8)
    assert isinstance(sp.build(a, 0), bytes)  # outside the context, bytes as always


def test_proxy_reads_dry_candidates_as_it_reads_files(proxy):
    """Predictions from a dry-built candidate and from the written .tflite agree closely."""
    sp = get_space("classification")
    archs = [sp.sample(s) for s in range(20, 26)]
    dry = proxy.predictor.predict_many([candidate(a).encoded for a in archs], layers=False)
    real = proxy.predictor.predict_many([write_design(a) for a in archs], layers=False)
    for d, r in zip(dry, real, strict=True):
        for m in d.metrics:
            assert d.metrics[m].value == pytest.approx(r.metrics[m].value, rel=0.03), m


def test_env_follows_the_gymnasium_api(proxy):
    from gymnasium.utils.env_checker import check_env

    env = SearchEnv("kws", proxy, Budget(LOOSE), max_evaluations=50)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs) and terminated and not truncated
    assert isinstance(reward, float) and "fits" in info


def test_reward_ranks_fitting_designs_above_the_rest():
    b = Budget({"latency_ms": 1.0}, "macs")
    fit, near, far = b.reward(1e3, {"latency_ms": 0.9}), b.reward(1e9, {"latency_ms": 1.1}), \
        b.reward(1e9, {"latency_ms": 5.0})
    assert fit > 0 > near > far
    with pytest.raises(PerfsageError):
        Budget({"latency_ms": 1.0}, "accuracy")
    with pytest.raises(PerfsageError):
        Budget({"arena_kib": 10.0}).check_target("ethos-u55-128", ["latency_ms", "sram_kib"])


@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_each_agent_spends_its_budget_deterministically(agent, proxy):
    runs = []
    for _ in range(2):
        env = SearchEnv("kws", proxy, Budget(LOOSE), max_evaluations=40)
        get_agent(agent, seed=1).run(env)
        assert len(env.history) == 40
        runs.append([json.dumps(v.arch, sort_keys=True) for v in env.history])
    assert runs[0] == runs[1]
    assert any(v.fits for v in env.history)
    best = best_visits(env.history, "macs", 3)
    assert best and all(v.fits for v in best)
    assert [v.evaluation.objective["macs"] for v in best] == sorted((v.evaluation.objective["macs"] for v in best),
                                                                     reverse=True)
    front = pareto_visits(env.history, "macs", sorted(LOOSE))
    assert best[0].arch in [v.arch for v in front]  # the largest fitting design is never dominated


def test_evolution_beats_random_sampling(proxy):
    """On a large space the genetic algorithm finds larger fitting designs than random sampling at the same
    budget (the mean over seeds; on kws's 19 genes random sampling is as good, as ArchGym found for
    small spaces)."""
    budget = Budget({"latency_ms": 8.0, "sram_kib": 400.0})

    def best(agent: str, seed: int) -> float:
        env = SearchEnv("classification", proxy, budget, max_evaluations=240)
        get_agent(agent, seed).run(env)
        return max(v.evaluation.objective["macs"] for v in env.history if v.fits)

    assert np.mean([best("evolution", s) for s in (0, 1, 2)]) > 1.05 * np.mean([best("random", s) for s in (0, 1, 2)])


def test_search_writes_and_verifies_designs_and_resumes(tmp_path, proxy):
    cfg = SearchConfig("kws", "ethos-u55-128", Budget({"latency_ms": 0.6, "sram_kib": 150.0}), "evolution",
                       64, out=tmp_path, top=2)
    first_cost = ProxyCost("ethos-u55-128", None, proxy.predictor)
    journal = first_cost.use_journal(tmp_path, "kws")
    first = search(cfg, cost=first_cost)
    assert first.evaluations == 64 and len(first.best) == 2
    for d in first.best:
        assert load_graph(d.model).nodes and d.measured is not None
        assert d.fits is True  # chosen by the interval's upper end, they fit when Vela measures them
    assert "<svg" in (tmp_path / "report.html").read_text()
    # a kill mid-journal: half the lines and a cut one
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:30]) + "\n" + lines[30][:40])
    again = ProxyCost("ethos-u55-128", journal, proxy.predictor)
    second = search(cfg, cost=again)
    assert again.timings.evaluations <= 64 - 30 + 1  # only what the journal lacked was costed again
    assert [d.arch for d in second.best] == [d.arch for d in first.best]


def test_simulator_cost_measures_the_written_design():
    sim = SimulatorCost("ethos-u55-128", workers=2)
    try:
        sp = get_space("kws")
        archs = [sp.sample(s) for s in (3, 4, 5)]
        evals = sim.evaluate(archs)
    finally:
        sim.close()
    from perfsage.targets import get_target

    tool = get_target("ethos-u55-128")
    try:
        direct = tool.measure(write_design(archs[0]), per_layer=False).metrics
    finally:
        tool.close()
    assert evals[0].values["sram_kib"] == pytest.approx(direct["sram_kib"], rel=1e-6)
    assert evals[0].upper == evals[0].values and evals[0].objective["macs"] > 0


def test_cli_search_json(tmp_path):
    r = run_cli("search", "--space", "kws", "--target", "ethos-u55-128", "--max-latency-ms", "0.5",
                "--max-sram-kib", "120", "--agent", "random", "--evaluations", "48", "--top", "1",
                "--out", str(tmp_path), "--json", timeout=240)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["evaluations"] == 48 and d["seconds"] > 0
    (best,) = d["best"]
    assert set(best) >= {"model", "arch", "objective", "predicted", "measured", "fits"} and best["fits"] is True


@pytest.mark.parametrize("args, words", [
    (["--space", "kws", "--max-arena-kib", "10"], "does not report arena_kib"),
    (["--space", "kws", "--max-latency-ms", "1", "--agent", "hill"], "unknown agent"),
    (["--space", "nowhere", "--max-latency-ms", "1"], "unknown space"),
    (["--space", "kws"], "at least one budget"),
    (["--space", "kws", "--max-latency-ms", "0.001", "--evaluations", "16"], "no design of the kws space fits"),
    (["--space", "kws", "--max-latency-ms", "1", "--objective", "accuracy"], "unknown objective"),
    (["--space", "kws", "--max-latency-ms", "1", "--cost", "oracle"], "unknown cost model"),
])
def test_cli_search_bad_input(tmp_path, args, words):
    r = run_cli("search", *args, "--out", str(tmp_path), "--no-verify", timeout=180)
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("agent, settings", [("evolution", {"mutation_eta": 5.0}), ("bo", {"per_ask": 4}),
                                             ("aco", {"levels": 4, "rho": 0.4}), ("rl", {"n_steps": 2})])
def test_agent_settings_change_the_search(agent, settings, proxy):
    """An agent's tuning settings (benchmarks/agent_tuning.py) reach its method: other designs than the
    default's, as deterministic; an unknown setting is an error before any work."""
    runs = {}
    for name, s in (("default", {}), ("set", settings), ("again", settings)):
        env = SearchEnv("kws", proxy, Budget(LOOSE), max_evaluations=48)
        get_agent(agent, 1, 16, **s).run(env)
        runs[name] = [json.dumps(v.arch, sort_keys=True) for v in env.history]
    assert runs["set"] == runs["again"] and runs["set"] != runs["default"]
    with pytest.raises(PerfsageError, match="no setting"):
        get_agent(agent, 0, bogus=1)
