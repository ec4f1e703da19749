"""Training progress: a tqdm bar in kimg with img/s and ETA, one ``stats.jsonl`` row per tick,
and the snapshot schedule, shared by every training loop; and the guarded optimizer step of the
loops that train one network (``descend``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Self

import numpy as np
import torch
from tqdm import tqdm

from explorer.errors import UserError


def non_finite_loss(run_dir: Path, nimg: int, loss: str) -> UserError:
    """The error that stops a run whose loss became ``loss`` (e.g. "nan") after ``nimg`` images;
    the checkpoint on disk is the last good one, since checkpoints are only written after a step."""
    return UserError(f"{run_dir}: loss became {loss} at {nimg / 1000:.1f} kimg; stopped, the last checkpoint is kept")


def descend(opt: torch.optim.Optimizer, loss: torch.Tensor, run_dir: Path, progress: dict, batch: int) -> None:
    """One optimizer step on a scalar ``loss`` of a single-network run, counting ``batch`` more
    images and one more step in ``progress`` ({"nimg", "step"}).

    Raises:
        UserError: the loss is not finite (``non_finite_loss``); nothing is stepped.
    """
    if not torch.isfinite(loss):
        raise non_finite_loss(run_dir, progress["nimg"], str(loss.item()))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    progress["nimg"] += batch
    progress["step"] += 1


class TrainingProgress:
    """Counts images shown, averages the logged values over each tick and says when to snapshot.

    Args:
        run_dir: where ``stats.jsonl`` is appended to.
        nimg: images already shown (non-zero on resume).
        total_kimg, tick_kimg, snapshot_kimg: the run's length, tick and snapshot intervals.
        postfix: the logged value to show on the bar beside img/s (e.g. "loss_G").
        enabled: False in the processes of a distributed job other than rank 0: they keep the
            schedule but show and write nothing.

    Use as a context manager; call ``step`` once per minibatch.
    """

    def __init__(self, run_dir: Path, nimg: int, total_kimg: float, tick_kimg: float, snapshot_kimg: float,
                 postfix: str, enabled: bool = True):
        self.total = int(total_kimg * 1000)
        self.tick, self.snapshot_every = tick_kimg * 1000, snapshot_kimg * 1000
        self.next_tick, self.next_snapshot = nimg + self.tick, nimg + self.snapshot_every
        self.tick_start, self.tick_nimg = time.time(), nimg
        self.values: dict[str, list[float]] = {}
        self.postfix = postfix
        self.stats = Path(run_dir) / "stats.jsonl" if enabled else None
        self.bar = tqdm(total=self.total, initial=min(nimg, self.total), unit="kimg", unit_scale=0.001,
                        dynamic_ncols=True, disable=not enabled,
                        bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} kimg [{elapsed}<{remaining}{postfix}]")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()

    def step(self, nimg: int, **values: float) -> bool:
        """Record a minibatch (``nimg`` images shown in all, after it) and its values; writes a stats row at tick ends. Returns True when a snapshot is due."""
        for name, value in values.items():
            self.values.setdefault(name, []).append(value)
        self.bar.update(min(nimg, self.total) - self.bar.n)
        done = nimg >= self.total
        if nimg >= self.next_tick or done:
            now = time.time()
            row = {"kimg": round(nimg / 1000, 3),
                   "img_per_s": round((nimg - self.tick_nimg) / (now - self.tick_start), 2),
                   **{k: round(float(np.mean(v)), 5) for k, v in self.values.items()}}
            if self.stats:
                with open(self.stats, "a") as f:
                    f.write(json.dumps(row) + "\n")
            self.bar.set_postfix_str(f"{row['img_per_s']:.1f} img/s, {self.postfix} {row[self.postfix]:.4f}")
            self.values = {}
            self.tick_start, self.tick_nimg = now, nimg
            self.next_tick += self.tick
        if nimg >= self.next_snapshot or done:
            self.next_snapshot += self.snapshot_every
            return True
        return False


def training_hours(run_dir: Path, start_kimg: float = 0.0) -> float:
    """Hours of training in a run folder, summed from its ``stats.jsonl`` ticks (kimg shown in a
    tick / its img/s); ``start_kimg``: where the run started (non-zero when it continued a
    network snapshot). Resumed runs count each tick once."""
    seconds, previous = 0.0, start_kimg
    path = Path(run_dir) / "stats.jsonl"
    for line in path.read_text().splitlines() if path.is_file() else []:
        row = json.loads(line)
        seconds += max(row["kimg"] - previous, 0.0) * 1000 / max(row["img_per_s"], 1e-9)
        previous = max(previous, row["kimg"])
    return seconds / 3600
