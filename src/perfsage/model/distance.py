"""How far a model lies from the training models, in the network's own view of graphs.

The training-domain check (perfsage.model.domain) names features outside their training range; it says
nothing about a model whose every feature is in range but whose combination the network never saw, and
those are most of the misses: on ethos-u55-128's random-split validation part the domain check is silent
on 90% of the models and its score does not rank their errors (Spearman 0.03 with the largest error),
while the mean distance to the nearest training models in the network's graph embedding does (0.56; 0.70
once random graphs are in training). So the conformal intervals are calibrated per band of this distance
(perfsage.model.calibration) and a model farther out than almost every held-out model is flagged.

The embedding is PerfSAGENet's (mean operator state and graph-feature read, before any head), standardised
and projected onto its leading principal axes so that a predictor ships a small reference set: REFERENCE
training models x DIMS numbers in float16. docs/research-log.md (2026-12-07) has the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DISTANCE_FILE = "distance.npz"
REFERENCE = 2048  # training models kept as neighbours
DIMS = 32  # principal axes kept
K = 10  # neighbours averaged


@dataclass(frozen=True)
class EmbeddingDistance:
    mean: np.ndarray  # [E] of the raw embeddings
    scale: np.ndarray  # [E]
    axes: np.ndarray  # [E, DIMS] principal axes of the standardised embeddings
    reference: np.ndarray  # [REFERENCE, DIMS] projected training embeddings
    k: int = K

    def project(self, embedding: np.ndarray) -> np.ndarray:
        return ((np.asarray(embedding, np.float32) - self.mean) / self.scale) @ self.axes

    def score(self, embedding: np.ndarray) -> np.ndarray:
        """Mean distance of each embedding to its k nearest reference models [n]."""
        q = self.project(embedding)
        if not len(q):
            return np.zeros(0)
        ref = self.reference.astype(np.float32)
        k = min(self.k, len(ref))
        out = []
        for s in range(0, len(q), 1024):
            part = q[s:s + 1024]
            d2 = (part ** 2).sum(1)[:, None] + (ref ** 2).sum(1)[None, :] - 2.0 * part @ ref.T
            near = np.partition(np.maximum(d2, 0.0), k - 1, axis=1)[:, :k]
            out.append(np.sqrt(near).mean(1))
        return np.concatenate(out).astype(np.float64)

    def save(self, folder: Path) -> None:
        np.savez_compressed(Path(folder) / DISTANCE_FILE, mean=self.mean, scale=self.scale,
                            axes=self.axes.astype(np.float32), reference=self.reference.astype(np.float16),
                            k=np.array(self.k))

    @classmethod
    def load(cls, folder: Path) -> EmbeddingDistance | None:
        path = Path(folder) / DISTANCE_FILE
        if not path.is_file():
            return None
        try:
            with np.load(path) as d:
                return cls(d["mean"], d["scale"], d["axes"], d["reference"], int(d["k"]))
        except (OSError, ValueError, KeyError, EOFError):  # as read_record words a malformed JSON record
            from perfsage.errors import PerfsageError

            raise PerfsageError(f"{path}: malformed (not as perfsage writes it)") from None


def fit_distance(embedding: np.ndarray, seed: int = 0, reference: int = REFERENCE, dims: int = DIMS
                 ) -> EmbeddingDistance:
    """From the training models' embeddings: standardisation, principal axes, a random reference set."""
    e = np.asarray(embedding, np.float64)
    mean = e.mean(0)
    scale = np.where(e.std(0) > 1e-6, e.std(0), 1.0)
    z = (e - mean) / scale
    _, _, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
    axes = vt[:min(dims, vt.shape[0])].T
    pick = np.random.default_rng(seed).choice(len(e), min(reference, len(e)), replace=False)
    return EmbeddingDistance(mean.astype(np.float32), scale.astype(np.float32), axes.astype(np.float32),
                             (z[np.sort(pick)] @ axes).astype(np.float16))


FIT_MODELS = 8192  # training models embedded to fit the standardisation and axes


def fit_distance_for(est, train_graphs: list, seed: int = 0) -> EmbeddingDistance | None:
    """The distance model of an estimator that embeds graphs (PerfSAGE), from its training graphs; None for
    one that does not (the baselines)."""
    if not hasattr(est, "embed") or not train_graphs:
        return None
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(train_graphs), min(FIT_MODELS, len(train_graphs)), replace=False))
    return fit_distance(est.embed([train_graphs[i] for i in pick]), seed)


def predict_with_distance(est, graphs: list, distance: EmbeddingDistance | None
                          ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The estimator's predictions and, with a distance model, each graph's distance, from one forward pass."""
    if distance is None or not hasattr(est, "predict_full"):
        return est.predict(graphs), None
    values, _, embedding = est.predict_full(graphs, layers=False)
    return values, distance.score(embedding)
