"""The network table of ``make bench``: forward time of compressed dense blocks against torch dense.

For the embedded default (the dense layers of ``small_vgg`` as built by
:func:`compactnn.nn.models.get_model`) and VGG19's dense block
(512 -> 4096 -> 4096 -> 10), every layer gets synthetic pruned and quantized
weights (:func:`compactnn.synthetic.synthetic_matrix`, density ``1 - p/100``,
``k`` levels).  The block (linear layers with ReLU between them) is converted
with :func:`compactnn.nn.to_compressed` once per C-computable format, and its
forward pass is timed in pairs against the same block in torch dense
(:func:`compactnn.timing.time_paired_many`, all pairs of one thread setting
interleaved), at each batch size, with torch and the kernels on 1 thread and on
the default.  Each row also gives the block's bytes (the formats' ``nbytes``
plus float32 biases), the size of its model file (``compactnn.nn.save_compressed``;
the bytes where the package has no model file writer) and its ``psi`` (the bytes
over the dense float32 block).

A benchmark, not a test: nothing is judged, the table is written as CSV and Markdown.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

#: Spec of ``bench --quick`` and of the full run: models (name -> layer shapes,
#: or None for the embedded default's dense layers), pruning levels, k, batches,
#: thread settings (None: the default) and pairs per ratio.
NETWORK = {"models": {"small_vgg": None, "vgg19_dense": [(512, 4096), (4096, 4096), (4096, 10)]},
           "ps": (90, 96, 99), "k": 32, "batches": (1, 8), "threads": (1, None), "pairs": 7}
NETWORK_QUICK = NETWORK | {"pairs": 5}

COLUMNS = ["model", "p", "k", "format", "batch", "threads", "compressed_s", "dense_s", "ratio",
           "spread", "nbytes", "file_bytes", "psi"]


def _file_bytes(comp, fallback: int) -> int:
    """Size of the block's compressed model file (``compactnn.nn.save_compressed``), else ``fallback``."""
    try:
        from .nn.modelfile import save_compressed
    except ImportError:  # no model file writer: the stored bytes stand in
        return fallback
    import os
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "block.cnn.safetensors")
        save_compressed(comp, path)
        return os.path.getsize(path)


def _shapes(name: str, shapes):
    if shapes is not None:
        return [tuple(s) for s in shapes]
    from torch import nn

    from .nn.models import get_model
    model = get_model(name)
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


def dense_block(shapes, p: float, k: int, seed: int = 0):
    """Linear layers of ``shapes`` ((n, m) each) with ReLU between, synthetic pruned+quantized weights."""
    import torch
    from torch import nn

    from .nn.layers import set_weight_matrix
    from .synthetic import synthetic_matrix
    layers = []
    for i, (n, m) in enumerate(shapes):
        lin = nn.Linear(n, m)
        set_weight_matrix(lin, torch.from_numpy(synthetic_matrix(n, m, 1 - p / 100, k, seed=seed + i)))
        layers += [lin, nn.ReLU()]
    return nn.Sequential(*layers[:-1]).eval()


def measure_network(spec: dict, formats=None, *, seed: int = 0) -> "pandas.DataFrame":  # noqa: F821
    """One row per model, p, format, batch and thread setting (columns :data:`COLUMNS`)."""
    import pandas as pd
    import torch

    from .formats import FORMATS
    from .nn.compressed import computable_in_c, to_compressed
    from .timing import time_paired_many

    names = sorted(formats or [n for n, c in FORMATS.items() if computable_in_c(c)])
    default_threads = torch.get_num_threads()
    rows = []
    try:
        for model, shapes in spec["models"].items():
            shapes = _shapes(model, shapes)
            for p in spec["ps"]:
                block = dense_block(shapes, p, spec["k"], seed)
                params = sum(n * m + m for n, m in shapes)
                comps = {name: to_compressed(block, formats=name) for name in names}
                sizes = {name: sum(mod.matrix.nbytes for mod in comp if hasattr(mod, "matrix"))
                         + 4 * sum(m for _, m in shapes) for name, comp in comps.items()}
                files = {name: _file_bytes(comp, sizes[name]) for name, comp in comps.items()}
                for t in spec["threads"]:
                    threads = default_threads if t is None else int(t)
                    torch.set_num_threads(threads)
                    ratios = {}
                    for name, comp in comps.items():
                        for mod in comp:
                            if hasattr(mod, "matrix"):
                                mod.threads = threads
                        for b in spec["batches"]:
                            x = torch.randn(b, shapes[0][0], generator=torch.Generator().manual_seed(seed))

                            def fa(comp=comp, x=x):
                                with torch.no_grad():
                                    return comp(x)

                            def fb(x=x):
                                with torch.no_grad():
                                    return block(x)
                            ratios[name, b] = (fa, fb)
                    timed = time_paired_many(ratios, pairs=spec["pairs"])
                    for (name, b), pr in timed.items():
                        rows.append({"model": model, "p": p, "k": spec["k"], "format": name, "batch": b,
                                     "threads": "default" if t is None else threads,
                                     "compressed_s": pr.a.median, "dense_s": pr.b.median,
                                     "ratio": pr.ratio, "spread": pr.spread, "nbytes": sizes[name],
                                     "file_bytes": files[name],
                                     "psi": sizes[name] / (4.0 * params)})
    finally:
        torch.set_num_threads(default_threads)
    return pd.DataFrame(rows, columns=COLUMNS)


def network_markdown(df) -> str:
    """The network table as Markdown: one line per row, ratio = compressed / torch dense time."""
    lines = ["# Network forward time: compressed dense block vs torch dense", "",
             "| model | p | format | batch | threads | compressed ms | dense ms | ratio | psi | file KiB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in df.itertuples():
        lines.append(f"| {r.model} | {r.p:g} | {r.format} | {r.batch} | {r.threads} | "
                     f"{1e3 * r.compressed_s:.3f} | {1e3 * r.dense_s:.3f} | {r.ratio:.2f} | {r.psi:.4f} | "
                     f"{r.file_bytes / 1024:.1f} |")
    return "\n".join(lines) + "\n"


def write_network(df, out: str) -> None:
    """Write ``network.csv`` and ``network.md`` under ``out``, atomically."""
    from ._files import write_text_atomic
    from .report.tables import write_csv
    write_csv(df, f"{out}/network.csv")
    write_text_atomic(f"{out}/network.md", network_markdown(df))
