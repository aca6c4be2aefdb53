"""The training loop the neural estimators share: shuffled mini-batches, AdamW with warm-up + cosine
learning rate, gradient clipping, early stopping on validation MAPE (best weights restored), an
optional wall-clock budget (`max_seconds`) that the learning-rate schedule anneals to, and (with a
`resume` file) a state saved after every epoch, so that a killed run goes on from its last whole epoch
and ends with the weights an uninterrupted run would have."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

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


def _save_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a kill mid-write leaves the previous epoch's state


def _load_state(path: Path | None, key: str) -> dict | None:
    """The saved state of the same run (same settings and data), else None."""
    if path is None or not path.is_file():
        return None
    try:
        state = torch.load(path, weights_only=True)
    except Exception:  # a damaged file: start over rather than fail
        return None
    return state if state.get("key") == key else None


def train_loop(net: nn.Module, n_train: int, hp: dict, batch_loss: Callable[[list[int]], torch.Tensor],
               val_score: Callable[[], float] | None, log: Callable[[dict], None],
               weight_decay: float, resume: Path | None = None, resume_key: str = "") -> list[dict]:
    """Train `net` in place; `batch_loss(idx)` is the loss of training examples idx, `val_score()` the
    validation MAPE (None: no early stopping). Returns the per-epoch records. `resume`: the state file
    of this run; `resume_key` names the data, so a state from other data is never picked up."""
    rng = np.random.default_rng(hp["seed"])
    opt = torch.optim.AdamW(net.parameters(), lr=hp["lr"], weight_decay=weight_decay)
    bs = hp["batch_size"]
    steps_per_epoch = max(1, math.ceil(n_train / bs))
    total = hp["epochs"] * steps_per_epoch
    budget = hp.get("max_seconds") or 0.0  # 0: no time budget
    key = json.dumps([hp, n_train, weight_decay, resume_key], sort_keys=True, default=str)
    best, best_state, bad, step, history, first, elapsed = float("inf"), None, 0, 0, [], 0, 0.0
    state = _load_state(resume, key)
    if state is not None:
        net.load_state_dict(state["net"])
        if state["finished"]:
            return json.loads(state["history"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        best, best_state, bad, step = state["best"], state["best_state"], state["bad"], state["step"]
        history, elapsed = json.loads(state["history"]), state["elapsed"]
        first = len(history)
        log({"resumed_after_epoch": first})
    t0 = time.monotonic() - elapsed

    def save(finished: bool) -> None:
        if resume is not None:
            _save_state(resume, {
                "key": key, "finished": finished, "net": net.state_dict(), "opt": opt.state_dict(),
                "rng": json.dumps(rng.bit_generator.state), "torch_rng": torch.get_rng_state(), "best": best,
                "best_state": best_state, "bad": bad, "step": step, "history": json.dumps(history),
                "elapsed": time.monotonic() - t0})

    stop = False
    for epoch in range(first, hp["epochs"]):
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
        stop = (val_score is not None and bad >= hp["patience"]) or bool(budget and rec["seconds"] >= budget)
        if not stop and epoch + 1 < hp["epochs"]:
            save(finished=False)
        log(rec)
        if stop:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    save(finished=True)
    return history
