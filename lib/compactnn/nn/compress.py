"""Compression state of a torch model, and its hook into the training loop.

:func:`compress_model` prunes and/or quantizes a model's dense layers, conv layers or
both (each family with its own method, ``p`` and ``k``), writes the compressed
weights into the model and returns a :class:`CompressionHook` holding, per
layer, a :class:`LayerCompression`: a mask (bool, ``True`` = kept) and/or a
codebook with an index matrix. Retraining is the ordinary :func:`~.train.fit`
loop with the hook passed in; the hook

- before the optimizer step, masks the gradient of pruned weights and, for
  weight sharing, turns the weight gradient into the codebook's cumulative
  gradient ``dL/dc_l = sum of dL/dw_ij over the entries with index l`` (over
  every layer sharing the codebook in unified mode; pruned entries excluded),
  then drops the weight gradient so the optimizer moves only the codebook;
- after the step, rewrites the weights as ``codebook[indices]`` (pruned
  entries exactly zero).

Indices never change; codebook slots used by pruned entries are frozen at 0.0.

Two choices have a ``"paper"`` and a ``"reference"`` (the authors' code) form:

- ``TargetSpec.variant`` picks the quantizer variant
  (:mod:`compactnn.quantize.reference`);
- ``rule`` of :func:`compress_model` picks the codebook update. ``"paper"``:
  the codebooks are trained by the same optimizer as the rest of the model (no
  weight decay) on the cumulative gradient above. ``"reference"``: the
  optimizer moves the weights themselves (pruned ones excepted), then each
  centroid moves by ``c -= lr_cum * sum(w_before - w_after)`` over its
  weights (``lr_cum = 1e-3``), and the weights are rewritten from the
  codebook. ``"reference-2021"``: the same step, but computed from the
  *initial* codebook every batch, as the 2021 unified-codebook code does
  (the updated centres go to a local variable and are lost), so nothing
  accumulates: after each batch the codebook is ``c0 - lr_cum * (this batch's
  summed change)``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import CompactnnError
from ..quantize.reference import RULES, VARIANTS, check_variant, distinct_nonzero_values
from .layers import KINDS, LayerRef, compressible_layers
from .train import Hook

__all__ = ["TargetSpec", "LayerCompression", "CompressionHook", "compress_model", "VARIANTS",
           "RULES", "LR_CUM", "distinct_nonzero_values"]

#: Codebook learning rate of the reference rules (the authors' ``lr_cumulative``).
LR_CUM = 1e-3

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetSpec:
    """How to compress one family of layers (dense or conv).

    Parameters
    ----------
    method : str or None
        Weight-sharing method of :mod:`compactnn.quantize` (``"cws"``,
        ``"pws"``, ``"uq"``, ``"ecsq"``); ``None`` prunes only.
    p : float, sequence of float, or None
        Pruning percentile in ``[0, 100)``, per layer; a sequence gives one
        per layer. ``None``: no pruning. With ``method`` this is Pr-X: the
        quantizer sees the kept weights only and zero stays exact.
    k : int, sequence of int, or None
        Codebook size; a sequence gives one per layer (per-layer mode only).
        Required with ``method``.
    unified : bool
        One codebook shared by all layers of the family instead of one per layer.
    variant : {"paper", "reference"}
        Quantizer variant (see :func:`compactnn.quantize.quantize`): ``"paper"``
        quantizes only the kept weights (Pr-X) with the methods as the paper
        describes them; ``"reference"`` as the authors' code (zeros included,
        then masked; mini-batch k-means; coarse UQ grid; fixed ECSQ lambdas).
    options : dict
        Extra keyword arguments of the quantizer (e.g. ``{"net": "deepdta"}``
        for the reference ECSQ's lambda list).
    """

    method: str | None = None
    p: float | Sequence[float] | None = None
    k: int | Sequence[int] | None = None
    unified: bool = False
    variant: str = "paper"
    options: dict | None = None

    def __post_init__(self) -> None:
        check_variant(self.variant, VARIANTS)
        if self.method is None and self.p is None:
            raise ValueError("a TargetSpec needs a method, a pruning percentile p, or both")
        if self.method is not None and self.k is None:
            raise ValueError(f"method {self.method!r} needs a codebook size k")
        if self.method is None and self.k is not None:
            raise ValueError("k given without a weight-sharing method")
        if self.unified and not isinstance(self.k, (int, np.integer)):
            raise ValueError("unified mode takes a single k")
        for p in np.atleast_1d(self.p if self.p is not None else []):
            if not 0 <= p < 100:
                raise ValueError(f"pruning percentile must be in [0, 100), got {p}")

    @classmethod
    def parse(cls, name: str, p=None, k=None, unified: bool = False,
              variant: str = "paper") -> "TargetSpec":
        """Spec from a method name as the paper writes it.

        ``"pr"`` is pruning, ``"cws"``/``"pws"``/``"uq"``/``"ecsq"`` weight
        sharing, ``"pr-cws"`` and so on both; a leading ``"u"`` (``"ucws"``,
        ``"pr-ucws"``) asks for unified codebooks.
        """
        parts = name.lower().split("-")
        prune = parts[0] == "pr"
        rest = parts[1:] if prune else parts
        if len(rest) > 1 or (not prune and not rest):
            raise ValueError(f"cannot parse compression method {name!r}")
        method = rest[0] if rest else None
        if method is not None and method.startswith("u") and method != "uq":
            method, unified = method[1:], True
        return cls(method=method, p=p if prune else None, k=k, unified=unified, variant=variant)

    def per_layer(self, value, n: int) -> list:
        """Expand a scalar-or-sequence field to ``n`` per-layer values."""
        if value is None or np.ndim(value) == 0:
            return [value] * n
        if len(value) != n:
            raise ValueError(f"{len(value)} per-layer values for {n} layers")
        return list(value)


class LayerCompression:
    """Compression state of one layer.

    Parameters
    ----------
    name, kind : str
        Module name and ``"dense"``/``"conv"``.
    module : nn.Module
        The layer.
    mask : torch.Tensor or None
        Bool ``(n, m)`` in the matrix view, ``True`` = kept.
    codebook : torch.nn.Parameter or None
        ``(k,)`` float32; the same object for all layers of a unified family.
    indices : torch.Tensor or None
        Integer ``(n, m)`` into ``codebook``.

    Notes
    -----
    Mask and indices are stored once, in the weight's own layout
    ``(out, in, *kernel)`` (int64 indices), so the per-step work needs no
    transposes; the ``mask`` and ``indices`` attributes are ``(n, m)`` views.
    """

    def __init__(self, name: str, kind: str, module: nn.Module, mask: torch.Tensor | None = None,
                 codebook: nn.Parameter | None = None, indices: torch.Tensor | None = None,
                 k: int | None = None):
        self.name, self.kind, self.module, self.codebook = name, kind, module, codebook
        #: the k the user asked for (the codebook may hold one more entry, the pruned zero)
        self.k = k
        shape = module.weight.shape
        self._wmask = None if mask is None else mask.T.contiguous().view(shape)
        self._idx = None if indices is None else indices.T.to(torch.int64).contiguous().view(shape)

    @property
    def mask(self) -> torch.Tensor | None:
        """Bool ``(n, m)`` view, ``True`` = kept."""
        return None if self._wmask is None else self._wmask.reshape(self._wmask.shape[0], -1).T

    @property
    def indices(self) -> torch.Tensor | None:
        """int64 ``(n, m)`` view of the indices into :attr:`codebook`."""
        return None if self._idx is None else self._idx.reshape(self._idx.shape[0], -1).T

    def to(self, device) -> None:
        """Move mask and indices (the codebook is moved by the hook)."""
        if self._wmask is not None:
            self._wmask = self._wmask.to(device)
        if self._idx is not None:
            self._idx = self._idx.to(device)

    def __repr__(self) -> str:
        k = self.k if self.k is not None else (None if self.codebook is None else self.codebook.numel())
        kept = None if self._wmask is None else float(self._wmask.float().mean())
        return f"LayerCompression({self.name!r}, {self.kind}, k={k}, kept={kept})"

    def to_numpy(self) -> dict[str, np.ndarray]:
        """The state as arrays: ``weights`` (float32 ``(n, m)``), ``mask``,
        ``codebook`` and ``indices`` (int32) where present."""
        w = self.module.weight.detach()
        out = {"weights": w.reshape(w.shape[0], -1).T.cpu().numpy().copy()}
        if self.mask is not None:
            out["mask"] = self.mask.cpu().numpy()
        if self.codebook is not None:
            out["codebook"] = self.codebook.detach().cpu().numpy().copy()
            out["indices"] = self.indices.cpu().numpy().astype(np.int32)
        return out


class CompressionHook(Hook):
    """Keeps a model's compressed layers compressed while it trains.

    Built by :func:`compress_model`; pass it to :func:`~.train.fit` in ``hooks``.

    Parameters
    ----------
    layers : list of LayerCompression
    rule : {"paper", "reference", "reference-2021"}
        Codebook update (see the module docstring): the optimizer on the
        cumulative gradient; the authors' ``c -= lr_cum * sum(w_before -
        w_after)`` after an optimizer step on the weights; or that step taken
        from the initial codebook every batch (no accumulation, 2021 code).
    lr_cum : float
        Codebook rate of the reference rules.
    """

    def __init__(self, layers: list[LayerCompression], rule: str = "paper",
                 lr_cum: float = LR_CUM) -> None:
        self.rule = check_variant(rule, RULES, "codebook rule")
        if not (lr_cum >= 0 and np.isfinite(lr_cum)):
            raise ValueError(f"lr_cum must be a finite number >= 0, got {lr_cum}")
        self.lr_cum = float(lr_cum)
        self.layers = layers
        self._groups: list[tuple[nn.Parameter, torch.Tensor, list[LayerCompression]]] = []
        for cb in self.codebooks:
            members = [lc for lc in layers if lc.codebook is cb]
            frozen = torch.zeros(cb.numel(), dtype=torch.bool, device=cb.device)
            for lc in members:
                if lc.mask is not None:
                    frozen[lc.indices[~lc.mask]] = True
            if torch.any(cb.detach()[frozen] != 0):
                log.warning("codebook slots of pruned entries are not zero; forcing them to 0")
            self._groups.append((cb, frozen, members))
        self._before: dict[int, torch.Tensor] = {}
        self.after_step()
        # the reference-2021 rule restarts every batch from these
        self._initial = [cb.detach().clone() for cb, _, _ in self._groups]

    @property
    def codebooks(self) -> list[nn.Parameter]:
        """The distinct codebooks, in layer order."""
        seen: dict[int, nn.Parameter] = {}
        for lc in self.layers:
            if lc.codebook is not None:
                seen.setdefault(id(lc.codebook), lc.codebook)
        return list(seen.values())

    def parameters(self) -> list[nn.Parameter]:
        """The codebooks: the optimizer trains them in place of the weights
        (paper rule); none under the reference rules, which move them by hand."""
        return self.codebooks if self.rule == "paper" else []

    def to(self, device) -> "CompressionHook":
        """Move the state next to the model (call after ``model.to``)."""
        moved: dict[int, nn.Parameter] = {}
        for lc in self.layers:
            if lc.codebook is not None:
                cb = lc.codebook
                if id(cb) not in moved:
                    same = cb.device == torch.device(device)
                    moved[id(cb)] = cb if same else nn.Parameter(cb.detach().to(device))
                lc.codebook = moved[id(cb)]
            lc.to(device)
        self._groups = [(moved.get(id(cb), cb), frozen.to(device), members)
                        for cb, frozen, members in self._groups]
        self._initial = [c.to(device) for c in self._initial]
        return self

    def before_step(self) -> None:
        """Mask gradients; move weight gradients onto the codebooks (paper
        rule) or remember the weights before the step (reference rules)."""
        reference = self.rule != "paper"
        for lc in self.layers:
            grad = lc.module.weight.grad
            if grad is not None and lc.mask is not None and (lc.codebook is None or reference):
                grad.masked_fill_(~lc._wmask, 0.0)
            if reference and lc.codebook is not None:
                self._before[id(lc)] = lc.module.weight.detach().clone()
        if reference:
            return
        for cb, frozen, members in self._groups:
            g = torch.zeros(cb.shape, dtype=cb.dtype, device=cb.device)
            for lc in members:
                grad = lc.module.weight.grad
                if grad is None:
                    continue
                flat = grad.reshape(-1)
                if lc.mask is not None:
                    flat = flat.masked_fill(~lc._wmask.view(-1), 0.0)
                g.index_add_(0, lc._idx.view(-1), flat)
                lc.module.weight.grad = None  # the optimizer must not move the weight itself
            g[frozen] = 0.0
            cb.grad = g

    @torch.no_grad()
    def _reference_update(self) -> None:
        for gi, (cb, frozen, members) in enumerate(self._groups):
            step = torch.zeros(cb.shape, dtype=cb.dtype, device=cb.device)
            moved = False
            for lc in members:
                before = self._before.pop(id(lc), None)
                if before is None:
                    continue
                delta = (before - lc.module.weight.detach()).reshape(-1)
                if lc.mask is not None:
                    delta = delta.masked_fill(~lc._wmask.view(-1), 0.0)
                step.index_add_(0, lc._idx.view(-1), delta)
                moved = True
            if not moved:
                continue
            base = cb.detach() if self.rule == "reference" else self._initial[gi]
            cb.copy_(base - self.lr_cum * step)

    @torch.no_grad()
    def after_step(self) -> None:
        """Apply the reference codebook update if that rule is chosen, then
        rewrite the weights from the codebooks and masks."""
        if self.rule != "paper" and self._before:
            self._reference_update()
        for cb, frozen, _ in self._groups:
            cb.masked_fill_(frozen, 0.0)
        for lc in self.layers:
            w = lc.module.weight
            if lc.codebook is not None:
                w.copy_(lc.codebook[lc._idx])
            elif lc.mask is not None:
                w.masked_fill_(~lc._wmask, 0.0)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Copies of the codebooks (masks and indices never change)."""
        return {f"codebook.{i}": cb.detach().clone() for i, cb in enumerate(self.codebooks)}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore codebooks saved by :meth:`state_dict` (in place) and rewrite the weights."""
        for i, cb in enumerate(self.codebooks):
            cb.copy_(state[f"codebook.{i}"])
        self.after_step()

    def check(self) -> None:
        """Raise :class:`~compactnn.errors.CompactnnError` unless every weight
        equals ``codebook[indices]`` exactly and pruned entries are exactly 0."""
        for lc in self.layers:
            w = lc.module.weight.detach()
            wm = w.reshape(w.shape[0], -1).T
            if lc.codebook is not None and not torch.equal(wm, lc.codebook.detach()[lc.indices]):
                raise CompactnnError(f"layer {lc.name}: weights differ from codebook[indices]")
            if lc.mask is not None and torch.any(wm[~lc.mask] != 0):
                raise CompactnnError(f"layer {lc.name}: a pruned weight is not zero")

    def export(self) -> dict[str, dict[str, np.ndarray]]:
        """Per layer name, :meth:`LayerCompression.to_numpy`."""
        return {lc.name: lc.to_numpy() for lc in self.layers}


def _compress_family(refs: list[LayerRef], spec: TargetSpec, seed: int) -> list[LayerCompression]:
    opts = dict(spec.options or {}, variant=spec.variant)
    from ..quantize import magnitude_mask, quantize, quantize_layers

    ws = [r.matrix().detach().cpu().numpy().astype(np.float32) for r in refs]
    n = len(refs)
    masks = [None] * n
    if spec.p is not None:
        masks = [magnitude_mask(w, p) for w, p in zip(ws, spec.per_layer(spec.p, n))]
    pairs: list = [None] * n
    if spec.method is not None:
        if spec.unified:
            pairs = quantize_layers(ws, spec.method, k=int(spec.k), seed=seed,
                                    masks=masks if spec.p is not None else None, unified=True,
                                    **opts)
        else:
            pairs = [quantize(w, spec.method, k=int(k), seed=seed + i, mask=m, **opts)
                     for i, (w, k, m) in enumerate(zip(ws, spec.per_layer(spec.k, n), masks))]
    out: list[LayerCompression] = []
    shared: nn.Parameter | None = None
    ks = spec.per_layer(spec.k, n) if spec.method is not None else [None] * n
    for ref, mask, pair, k_user in zip(refs, masks, pairs, ks):
        device = ref.module.weight.device
        codebook = indices = None
        if pair is not None:
            cb_np, idx_np = pair
            if spec.unified and shared is not None:
                codebook = shared
            else:
                codebook = nn.Parameter(torch.as_tensor(np.asarray(cb_np, dtype=np.float32), device=device))
                shared = codebook
            indices = torch.as_tensor(np.asarray(idx_np), dtype=torch.int64, device=device)
        out.append(LayerCompression(
            ref.name, ref.kind, ref.module,
            mask=None if mask is None else torch.as_tensor(np.asarray(mask, dtype=bool), device=device),
            codebook=codebook, indices=indices, k=None if k_user is None else int(k_user)))
    return out


def compress_model(model: nn.Module, dense: TargetSpec | None = None, conv: TargetSpec | None = None,
             *, seed: int = 0, variant: str | None = None, rule: str | None = None,
             lr_cum: float = LR_CUM) -> CompressionHook:
    """Compress a model's dense and/or conv layers in place.

    Parameters
    ----------
    model : nn.Module
        A trained model; its compressible layers are found with
        :func:`~.layers.compressible_layers`.
    dense, conv : TargetSpec or None
        What to do with each family; ``None`` leaves it uncompressed.
    seed : int
        Seed of the randomised quantizers (PWS, k-means initialisation):
        layer ``i`` of a family uses ``seed + i``, a unified family ``seed``.
    variant : {"paper", "reference"} or None
        Quantizer variant for both families, overriding the specs'
        ``variant``; ``None`` keeps each spec's own.
    rule : {"paper", "reference", "reference-2021"} or None
        Codebook update during retraining (see :class:`CompressionHook`).
        ``None``: ``"reference"`` if a spec uses the reference variant,
        ``"paper"`` otherwise.
    lr_cum : float
        Codebook rate of the reference rules (the authors' 1e-3).

    Returns
    -------
    CompressionHook
        The state; the model's weights already equal it.

    Examples
    --------
    Pr-CWS on the dense layers, 90th percentile, one 32-value codebook per
    layer, then retraining:

    >>> hook = compress_model(model, dense=TargetSpec("cws", p=90, k=32))  # doctest: +SKIP
    >>> fit(model, train, val, hooks=[hook], lr=1e-4)                  # doctest: +SKIP
    """
    import dataclasses

    if variant is not None:
        check_variant(variant, VARIANTS)
        dense, conv = (None if s is None else dataclasses.replace(s, variant=variant)
                       for s in (dense, conv))
    if rule is None:
        rule = "reference" if any(s is not None and s.variant == "reference"
                                  for s in (dense, conv)) else "paper"
    check_variant(rule, RULES, "codebook rule")
    families = compressible_layers(model)
    layers: list[LayerCompression] = []
    for kind, spec in zip(KINDS, (dense, conv)):
        if spec is None:
            continue
        refs = families[kind]
        if not refs:
            raise ValueError(f"the model has no {kind} layers to compress")
        layers += _compress_family(refs, spec, seed)
        log.info("compressed %d %s layers: %s", len(refs), kind, spec)
    return CompressionHook(layers, rule=rule, lr_cum=lr_cum)
