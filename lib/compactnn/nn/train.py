"""The one training loop: baselines and retraining after compression.

Compression enters through :class:`Hook` objects (see
:class:`~.compress.CompressionHook`), never through a copy of the loop.
Data are in-memory ``(x, y)`` pairs: ``x`` an array/tensor, or a tuple of them
for multi-input models (DeepDTA), ``y`` labels (int64) or targets (float32).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..errors import UnknownNameError

__all__ = ["Hook", "StepSchedule", "RandomCrop", "fit", "evaluate", "resolve_device",
           "LOSSES", "METRICS", "AUGMENTATIONS"]

log = logging.getLogger(__name__)


class Hook:
    """Something that joins the training loop around each optimizer step.

    All methods are optional no-ops; :func:`fit` calls ``to`` and
    ``parameters`` once before building the optimizer, ``before_step`` after
    the backward pass, ``after_step`` after the optimizer step, and
    ``state_dict``/``load_state_dict`` to keep and restore the best epoch.
    """

    def parameters(self) -> list[torch.Tensor]:
        """Extra tensors the optimizer must train (e.g. codebooks)."""
        return []

    def to(self, device) -> "Hook":
        """Move the hook's tensors to ``device``."""
        return self

    def before_step(self) -> None:
        """Called between ``loss.backward()`` and ``optimizer.step()``."""

    def after_step(self) -> None:
        """Called after ``optimizer.step()``."""

    def state_dict(self) -> dict:
        """State to snapshot along with the model's."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""


@dataclass(frozen=True)
class StepSchedule:
    """Learning-rate multiplier ``gamma ** (number of milestones <= epoch)``.

    Epochs count from 0; ``StepSchedule((80, 120), 0.1)`` trains at the base
    rate for epochs 0-79, a tenth of it for 80-119, a hundredth afterwards.
    """

    milestones: tuple[int, ...] = ()
    gamma: float = 0.1

    def __call__(self, epoch: int) -> float:
        return self.gamma ** sum(epoch >= m for m in self.milestones)


@dataclass(frozen=True)
class RandomCrop:
    """Zero-pad by ``pad`` pixels, crop back at a random offset, maybe flip.

    The same as Keras' ``width/height_shift_range=pad/size`` with constant
    zero fill. Works on a whole NCHW batch on its device.
    """

    pad: int = 4
    flip: bool = False

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b, c, h, w = x.shape
        xp = F.pad(x, (self.pad,) * 4)
        oy, ox = torch.randint(0, 2 * self.pad + 1, (2, b), generator=generator).to(x.device)
        rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        out = xp[torch.arange(b, device=x.device)[:, None, None, None],
                 torch.arange(c, device=x.device)[None, :, None, None], rows, cols]
        if self.flip:
            flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
            out = torch.where(flip[:, None, None, None], out.flip(3), out)
        return out


AUGMENTATIONS: dict[str, Callable] = {
    "crop": RandomCrop(4, flip=False),
    "crop-flip": RandomCrop(4, flip=True),  # CIFAR-10
    "crop2": RandomCrop(2, flip=False),  # digits: shifts of up to 2 px, no flips
}


def _mse_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(out.reshape(y.shape), y)


LOSSES: dict[str, Callable] = {"cross_entropy": F.cross_entropy, "mse": _mse_loss}


def _correct(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (out.argmax(1) == y).sum(dtype=torch.float64)


def _squared_error(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((out.reshape(y.shape).double() - y.double()) ** 2).sum()


#: metric name -> (per-batch sum, "max" or "min" is better); the metric is the mean.
METRICS: dict[str, tuple[Callable, str]] = {
    "accuracy": (_correct, "max"),
    "mse": (_squared_error, "min"),
}


def _lookup(table: dict, name, what: str):
    if not isinstance(name, str):
        return name
    try:
        return table[name]
    except KeyError:
        raise UnknownNameError(f"unknown {what} {name!r}; known: {', '.join(sorted(table))}") from None


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given.

    On CPU, torch is told to use every core this process may run on.
    """
    if str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cpu":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        torch.set_num_threads(cores or 1)
    return device


def _tensors(data, device: torch.device) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    x, y = data
    xs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    xs = tuple(torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a).to(device) for a in xs)
    y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y).to(device)
    if any(len(a) != len(y) for a in xs):
        raise ValueError("inputs and targets have different lengths")
    return xs, y


@torch.no_grad()
def evaluate(model: nn.Module, data, metric: str = "accuracy", *, batch_size: int = 1024,
             device: str | torch.device | None = None) -> float:
    """Mean metric of a model over a data set, in eval mode.

    Parameters
    ----------
    model : nn.Module
    data : (x, y)
        ``x`` an array or tensor, or a tuple of them for multi-input models.
    metric : str
        A name in ``METRICS`` (``"accuracy"``, ``"mse"``).
    batch_size : int
    device : str, torch.device or None
        Where to run; ``None`` = where the model's parameters are.

    Returns
    -------
    float
    """
    fn, _ = _lookup(METRICS, metric, "metric")
    if device is None:
        device = next(model.parameters()).device
    else:
        device = resolve_device(device)
        model.to(device)
    xs, y = _tensors(data, device)
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    for start in range(0, len(y), batch_size):
        sl = slice(start, start + batch_size)
        total += fn(model(*(a[sl] for a in xs)), y[sl])
    return float(total) / max(len(y), 1)


def _snapshot(model: nn.Module, hooks: Sequence[Hook]) -> dict:
    return {"model": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "hooks": [h.state_dict() for h in hooks]}


def _param_groups(model: nn.Module, hooks: Sequence[Hook], weight_decay: float) -> list[dict]:
    # As the Keras reference (kernel_regularizer): decay kernels only, not
    # biases or batch-norm parameters; codebooks are not decayed either.
    decay, plain = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else plain).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": plain, "weight_decay": 0.0}]
    extra = [p for h in hooks for p in h.parameters()]
    if extra:
        groups.append({"params": extra, "weight_decay": 0.0})
    return [g for g in groups if g["params"]]


def fit(model: nn.Module, train_data, val_data=None, *, epochs: int = 10, lr: float = 1e-3,
        optimizer: str = "adam", momentum: float = 0.9, nesterov: bool = False,
        weight_decay: float = 0.0, batch_size: int = 128, loss: str = "cross_entropy",
        metric: str = "accuracy", lr_schedule: Callable[[int], float] | None = None,
        hooks: Iterable[Hook] = (), patience: int | None = None,
        device: str | torch.device = "auto", seed: int = 0,
        augment: str | Callable | None = None, progress: bool = True) -> dict:
    """Train a model, keeping the epoch with the best validation metric.

    Parameters
    ----------
    model : nn.Module
        Trained in place; on return it holds the best epoch's state.
    train_data, val_data : (x, y)
        In-memory data, see the module docstring. Without ``val_data`` the
        last epoch is kept and there is no early stopping.
    epochs : int
        Maximum number of epochs.
    lr : float
        Base learning rate.
    optimizer : {"adam", "sgd"}
    momentum, nesterov : float, bool
        SGD only.
    weight_decay : float
        L2 coefficient on conv/dense/embedding kernels (torch convention:
        gradient ``+ weight_decay * w``).
    batch_size : int
        Training batch; a final batch of one sample is skipped (batch norm
        cannot train on it).
    loss : {"cross_entropy", "mse"}
    metric : {"accuracy", "mse"}
        Validation metric; accuracy is maximised, MSE minimised.
    lr_schedule : callable or None
        ``epoch -> multiplier`` of ``lr`` (e.g. :class:`StepSchedule`).
    hooks : iterable of Hook
        E.g. a :class:`~.compress.CompressionHook`.
    patience : int or None
        Stop after this many epochs without improvement; ``None`` never stops early.
    device : {"auto", "cpu", "cuda"} or torch.device
    seed : int
        Seeds torch (initial dropout masks etc.) and the shuffling and
        augmentation generators: on CPU two runs with one seed are identical.
    augment : {"crop", "crop-flip", "crop2"}, callable or None
        ``(x_batch, generator) -> x_batch`` applied to training batches.
    progress : bool
        Show a tqdm bar per epoch.

    Returns
    -------
    dict
        History: per epoch ``epoch``, ``lr``, ``train_loss``, ``val_metric``,
        ``epoch_s``; and ``best_epoch``, ``best_val_metric``, ``stopped_early``,
        ``device``, ``train_s`` (training time, evaluation excluded),
        ``samples_per_s``.
    """
    hooks = list(hooks)
    loss_fn = _lookup(LOSSES, loss, "loss")
    _, direction = _lookup(METRICS, metric, "metric")
    augment = _lookup(AUGMENTATIONS, augment, "augmentation") if augment is not None else None
    device = resolve_device(device)
    torch.manual_seed(seed)
    shuffle_gen = torch.Generator().manual_seed(seed)
    augment_gen = torch.Generator().manual_seed(seed + 1)

    model.to(device)
    for h in hooks:
        h.to(device)
    groups = _param_groups(model, hooks, weight_decay)
    if optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=lr)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)
    else:
        raise UnknownNameError(f"unknown optimizer {optimizer!r}; known: adam, sgd")

    xs, y = _tensors(train_data, device)
    val_data = _tensors(val_data, device) if val_data is not None else None
    n = len(y)
    history: dict = {"epoch": [], "lr": [], "train_loss": [], "val_metric": [], "epoch_s": []}
    better = (lambda a, b: a > b) if direction == "max" else (lambda a, b: a < b)
    best, best_epoch, best_state, waited = None, -1, None, 0
    train_s, seen, stopped = 0.0, 0, False

    for epoch in range(epochs):
        cur_lr = lr * (lr_schedule(epoch) if lr_schedule is not None else 1.0)
        for g in opt.param_groups:
            g["lr"] = cur_lr
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=shuffle_gen).to(device)
        total_loss = torch.zeros((), device=device)
        steps = range(0, n, batch_size)
        bar = tqdm(steps, desc=f"epoch {epoch + 1}/{epochs}", leave=False, disable=not progress)
        for start in bar:
            idx = perm[start:start + batch_size]
            if len(idx) < 2:
                continue
            batch = [a[idx] for a in xs]
            if augment is not None:
                batch[0] = augment(batch[0], augment_gen)
            out = model(*batch)
            batch_loss = loss_fn(out, y[idx])
            opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            for h in hooks:
                h.before_step()
            opt.step()
            for h in hooks:
                h.after_step()
            total_loss += batch_loss.detach() * len(idx)
            seen += len(idx)
        elapsed = time.perf_counter() - t0
        train_s += elapsed
        train_loss = float(total_loss) / n
        val = evaluate(model, val_data, metric) if val_data is not None else None
        for key, value in zip(("epoch", "lr", "train_loss", "val_metric", "epoch_s"),
                              (epoch, cur_lr, train_loss, val, elapsed)):
            history[key].append(value)
        log.info("epoch %d/%d: loss %.4f, val %s %s, %.1f s", epoch + 1, epochs, train_loss, metric,
                 "-" if val is None else f"{val:.4f}", elapsed)
        if val is None:
            best_epoch = epoch
            continue
        if best is None or better(val, best):
            best, best_epoch, waited = val, epoch, 0
            best_state = _snapshot(model, hooks)
        else:
            waited += 1
            if patience is not None and waited > patience:
                stopped = True
                log.info("early stop: no improvement for %d epochs", waited)
                break

    if best_state is not None and best_epoch != history["epoch"][-1]:
        model.load_state_dict(best_state["model"])
        for h, state in zip(hooks, best_state["hooks"]):
            h.load_state_dict(state)
    history.update(best_epoch=best_epoch, best_val_metric=best, stopped_early=stopped,
                   device=str(device), train_s=train_s,
                   samples_per_s=seen / train_s if train_s > 0 else float("nan"))
    return history
