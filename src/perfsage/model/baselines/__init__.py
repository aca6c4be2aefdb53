"""Baselines on the same features and splits as PerfSAGE: FLOPs regression, gradient-boosted trees,
a BRP-NAS-style GCN and an nn-Meter-style kernel predictor."""
