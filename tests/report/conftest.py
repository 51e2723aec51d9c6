"""Tiny compression records written by hand, following the record schema (no training)."""
import json

import pandas as pd
import pytest

COLUMNS = ["recipe", "network", "dataset", "method", "variant", "target", "p", "k", "p_conv", "k_conv",
           "unified", "label", "metric", "higher_is_better", "baseline", "before", "performance", "delta",
           "scope", "format", "bytes", "psi", "time_ratio"]
FORMATS = ["dense", "csr", "ham", "sham"]
#: per configuration: (recipe, method, variant, target, p, k, performance, psi of sHAM on the dense layers,
#: distinct nonzero values per dense layer)
CONFIGS = [
    ("small_vgg-mnist5k", "pr", "paper", "dense", 90, None, 0.981, 0.20, (200, 90)),
    ("small_vgg-mnist5k", "pr-cws", "paper", "dense", 97, 32, 0.984, 0.025, (32, 32)),
    ("small_vgg-mnist5k", "pr-cws", "reference", "dense", 97, 32, 0.982, 0.012, (3, 2)),
    ("small_vgg-mnist5k", "pr-cws", "paper", "dense", 90, 32, 0.986, 0.06, (32, 32)),
    ("small_vgg-mnist5k", "pr-cws", "paper", "both", 90, 32, 0.975, 0.06, (32, 32)),
    ("small_vgg-mnist5k", "cws", "paper", "dense", None, 4, 0.979, 0.15, (4, 4)),
    ("deepdta-davis", "pr-pws", "paper", "dense", 90, "32-2", 0.30, 0.07, (32, 2)),
    ("deepdta-davis", "pr-pws", "paper", "dense", 60, "32-2", 0.33, 0.30, (32, 2)),
]
BASELINE = {"small_vgg-mnist5k": 0.983, "deepdta-davis": 0.32}


def _text(v):
    return "" if v is None else str(v)


def write_compress_records(root):
    """One record folder per entry of CONFIGS under ``root/records/compress``; returns the folders."""
    folders = []
    for i, (recipe, method, variant, target, p, k, perf, psi_sham, distinct) in enumerate(CONFIGS):
        net, _, data = recipe.partition("-")
        metric = "accuracy" if data.startswith("mnist") else "mse"
        higher = metric == "accuracy"
        base = BASELINE[recipe]
        delta = (perf - base) if higher else (base - perf)
        config = {"recipe": recipe, "method": method, "variant": variant, "target": target, "p": p, "k": k,
                  "p_conv": None, "k_conv": None, "epochs": 2, "lr": 1e-3, "seed": 0}
        label = f"{method}/p{_text(p)}/k{_text(k)} ({target})"
        common = dict(recipe=recipe, network=net, dataset=data, method=method, variant=variant,
                      target=target, p=_text(p), k=_text(k), p_conv="", k_conv="", unified=False,
                      label=label, metric=metric, higher_is_better=higher, baseline=base,
                      before=perf - 0.05 if higher else perf + 0.05, performance=perf, delta=delta)
        psi = {"dense": 1.0, "csr": 3 * psi_sham, "ham": 1.4 * psi_sham, "sham": psi_sham}
        rows = []
        for scope, scale in (("dense", 1.0), ("network", 1.3)):
            for f in FORMATS:
                value = min(1.0, psi[f] * scale) if f != "dense" else 1.0
                rows.append(common | {"scope": scope, "format": f, "bytes": int(value * 4e5),
                                      "psi": value, "time_ratio": (2.0 + psi[f]) if scope == "dense" else None})
        folder = root / "records" / "compress" / f"key{i:04d}"
        folder.mkdir(parents=True)
        pd.DataFrame(rows, columns=COLUMNS).to_csv(folder / "rows.csv", index=False)
        pd.DataFrame([{"layer": f"fc{j + 1}", "kind": "dense", "rows": 64, "cols": 32,
                       "nnz": 100 + d, "distinct": d, "bytes_sham": 100 * d, "bytes_csr": 900}
                      for j, d in enumerate(distinct)]).to_csv(folder / "layers.csv", index=False)
        meta = {"kind": "compress", "key": folder.name, "config": config, "schema": 1, "version": "0.1.0",
                "seconds": 1.0, "rows": len(rows), "recipe": recipe, "network": net, "dataset": data,
                "metric": metric, "higher_is_better": higher, "baseline": base, "performance": perf,
                "epochs_run": 2, "model_file": None, "torch_threads": 2}
        (folder / "record.json").write_text(json.dumps(meta, indent=1))
        folders.append(folder)
    return folders


@pytest.fixture
def compress_records(tmp_path):
    """A results root holding the hand-written compression records of CONFIGS."""
    write_compress_records(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def compress_writer_module():
    """:func:`write_compress_records`, for module-scoped fixtures."""
    return write_compress_records
