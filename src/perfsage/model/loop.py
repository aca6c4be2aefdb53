"""The training loop the neural estimators share: shuffled mini-batches, AdamW with warm-up + cosine
learning rate, gradient clipping, early stopping on validation MAPE (best weights restored), and an
optional wall-clock budget (`max_seconds`) that the learning-rate schedule anneals to."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn


def cosine_lr(step: int, total: int, warmup: int, base: float, progress: float = 0.0) -> float:
    """Linear warm-up, then cosine decay over the steps, or over `progress` (the share of a time budget
    used) when that is further along, so a time-limited run still ends annealed."""
    if step < warmup:
        return base * (step + 1) / warmup
    done = max((step - warmup) / max(1, total - warmup), progress)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))


def val_mape(pred: dict[str, np.ndarray], val, metrics: list[str]) -> float:
    """Mean over metrics of the mean absolute percentage error, in percent."""
    errs = []
    for m in metrics:
        t = val.y[m]
        ok = t > 0
        errs.append(np.mean(np.abs(pred[m][ok] - t[ok]) / t[ok]) * 100)
    return float(np.mean(errs))


def train_loop(net: nn.Module, n_train: int, hp: dict, batch_loss: Callable[[list[int]], torch.Tensor],
               val_score: Callable[[], float] | None, log: Callable[[dict], None],
               weight_decay: float) -> list[dict]:
    """Train `net` in place; `batch_loss(idx)` is the loss of training examples idx, `val_score()` the
    validation MAPE (None: no early stopping). Returns the per-epoch records."""
    rng = np.random.default_rng(hp["seed"])
    opt = torch.optim.AdamW(net.parameters(), lr=hp["lr"], weight_decay=weight_decay)
    bs = hp["batch_size"]
    steps_per_epoch = max(1, math.ceil(n_train / bs))
    total = hp["epochs"] * steps_per_epoch
    budget = hp.get("max_seconds") or 0.0  # 0: no time budget
    t0 = time.monotonic()
    best, best_state, bad, step, history = float("inf"), None, 0, 0, []
    for epoch in range(hp["epochs"]):
        net.train()
        order = rng.permutation(n_train)
        tot_loss = 0.0
        for s in range(steps_per_epoch):
            idx = order[s * bs:(s + 1) * bs].tolist()
            for g in opt.param_groups:
                g["lr"] = cosine_lr(step, total, steps_per_epoch, hp["lr"],
                                    (time.monotonic() - t0) / budget if budget else 0.0)
            loss = batch_loss(idx)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            tot_loss += float(loss.detach())
            step += 1
        rec = {"epoch": epoch + 1, "train_loss": tot_loss / steps_per_epoch, "seconds": time.monotonic() - t0}
        if val_score is not None:
            rec["val_mape"] = score = val_score()
            if score < best - 1e-4:
                best, bad = score, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
        history.append(rec)
        log(rec)
        if val_score is not None and bad >= hp["patience"]:
            break
        if budget and time.monotonic() - t0 >= budget:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    return history
