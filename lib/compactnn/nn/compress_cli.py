"""``python -m compactnn compress`` and ``python -m compactnn evaluate``.

``compress BASELINE`` loads a baseline written by ``train`` (any file of
:func:`~compactnn.nn.models.save_model`), prunes and/or quantizes its dense
layers, conv layers or both, retrains (progress bars), stores the result with
:func:`~compactnn.nn.modelfile.save_compressed` and prints a short table.

``evaluate FILE`` loads a compressed model file, runs the test split through the
compressed modules and prints the metric, the forward time and the time of the
same network uncompressed (paired: same inputs, batches and threads).

torch is imported inside the functions only: this module is imported to build
the command line's ``--help``.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

from ..errors import UnknownNameError, UsageError

log = logging.getLogger(__name__)

#: Data set of a baseline when neither ``--data`` nor its metrics.json says.
DEFAULT_DATA = {"small_vgg": "mnist5k", "vgg19": "cifar10", "deepdta": "davis"}
METHODS = ("pr", "cws", "pws", "uq", "ecsq", "ucws", "upws", "uuq", "uecsq")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``compress`` command."""
    parser.add_argument("baseline", help="baseline model file (written by `train` or save_model)")
    parser.add_argument("--method", default="pr-cws",
                        help="pr, cws, pws, uq, ecsq, pr-<method>, u<method> (unified) "
                             "(default %(default)s)")
    parser.add_argument("--p", type=float, default=90.0, help="pruning percentile in [0, 100) (default %(default)s)")
    parser.add_argument("--k", type=int, default=32, help="codebook size >= 1 (default %(default)s)")
    parser.add_argument("--target", default="both", choices=("dense", "conv", "both"),
                        help="layers to compress (default %(default)s)")
    parser.add_argument("--p-conv", type=float, help="pruning percentile of the conv layers (default --p)")
    parser.add_argument("--k-conv", type=int, help="codebook size of the conv layers (default --k)")
    parser.add_argument("--unified", action="store_true", help="one codebook per family of layers")
    parser.add_argument("--variant", default="paper", choices=("paper", "reference"),
                        help="quantizer variant and codebook rule: as the paper describes them, or "
                             "as the authors' code (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=2, help="retraining epochs, 0 for none (default %(default)s)")
    parser.add_argument("--lr", type=float, default=1e-4, help="retraining learning rate (default %(default)s)")
    parser.add_argument("--format", default="smallest",
                        help="matrix format of every compressed layer, or 'smallest' per layer "
                             "(default %(default)s)")
    parser.add_argument("--data", help="data set (default: the baseline's, from its metrics.json)")
    parser.add_argument("--limit", type=int, help="use only the first N training and test samples")
    parser.add_argument("--seed", type=int, default=0, help="seed of quantizers and retraining (default %(default)s)")
    parser.add_argument("--out", help="compressed model file (default <baseline folder>/model.cnn.safetensors)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _check_number(name: str, value, low, high=None, integer=False) -> None:
    if value is None:
        return
    bad = not math.isfinite(value) or value < low or (high is not None and value >= high)
    if bad:
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise UsageError(f"--{name} must be {bound}, got {value:g}")


def _spec(method: str, p, k, unified: bool, variant: str):
    from .compress import TargetSpec

    name = method.lower()
    parts = name.split("-")
    if not ((parts == ["pr"]) or (len(parts) == 1 and parts[0] in METHODS[1:])
            or (len(parts) == 2 and parts[0] == "pr" and parts[1] in METHODS[1:])):
        raise UsageError(f"unknown method {method!r}; use pr, cws, pws, uq, ecsq, pr-<method> "
                         "or u<method> (e.g. pr-cws, ucws)")
    try:
        return TargetSpec.parse(name, p=p, k=None if name == "pr" else k, unified=unified,
                                variant=variant)
    except ValueError as exc:
        raise UsageError(f"--method {method}: {exc}") from None


def _data_name(args, baseline: Path, net: str) -> str:
    if args.data:
        return args.data
    metrics = baseline.parent / "metrics.json"
    if metrics.is_file():
        try:
            return str(json.loads(metrics.read_text())["data"])
        except (ValueError, KeyError, TypeError):
            pass
    return DEFAULT_DATA.get(net, "mnist5k")


def _dataset(name: str, recipe, limit):
    from ..data import get_dataset

    ds = recipe.prepare(get_dataset(name))
    if limit is not None:
        ds = ds.head(limit, limit)
    return ds


def _check_fits(model, ds, net: str, kwargs: dict, data: str) -> None:
    """The data set's inputs fit the network (else a UsageError)."""
    import torch

    from .recipes import model_kwargs

    if kwargs:
        try:
            want = model_kwargs(net, ds)
        except Exception:  # a data set of another kind (no image shape, no vocabulary)
            want = None
        if want is None or any(kwargs.get(k) != v for k, v in want.items()):
            raise UsageError(f"data set {data!r} does not fit the network {net} "
                             f"(it needs {want}, the network has "
                             f"{ {k: kwargs.get(k) for k in (want or kwargs)} })")
    xs = ds.x_test if isinstance(ds.x_test, tuple) else (ds.x_test,)
    try:
        with torch.no_grad():
            model.eval()(*(torch.as_tensor(x[:2]) for x in xs))
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise UsageError(f"data set {data!r} does not fit the network {net}: "
                         f"{' '.join(str(exc).split())[:200]}") from None


def _psi_table(dense_model, comp_model) -> dict:
    """psi of the dense layers, the conv layers and the whole network."""
    from .layers import compressible_layers
    from .modelfile import network_psi

    out = {}
    for kind, refs in compressible_layers(dense_model).items():
        stored = total = 0
        for ref in refs:
            n, m = ref.matrix().shape
            total += 4 * n * m
            mod = comp_model.get_submodule(ref.name)
            stored += mod.matrix.nbytes if hasattr(mod, "matrix") else 4 * n * m
        out[kind] = stored / total if total else None
    out["network"] = network_psi(comp_model)
    return out


def run(args: argparse.Namespace) -> int:
    """The ``compress`` command; returns the exit status."""
    import torch

    from ..formats import get_format
    from .compress import compress_model
    from .compressed import to_compressed
    from .layers import compressible_layers
    from .modelfile import save_compressed
    from .models import load_model
    from .recipes import get_recipe
    from .train import evaluate, fit

    baseline = Path(args.baseline)
    _check_number("p", args.p, 0, 100)
    _check_number("p-conv", args.p_conv, 0, 100)
    _check_number("k", args.k, 1)
    _check_number("k-conv", args.k_conv, 1)
    _check_number("epochs", args.epochs, 0)
    _check_number("lr", args.lr, 1e-300)
    _check_number("limit", args.limit, 1)
    if args.format != "smallest":
        try:
            get_format(args.format)
        except UnknownNameError as exc:
            raise UsageError(f"--format: {exc}") from None
    spec_dense = _spec(args.method, args.p, args.k, args.unified, args.variant)
    spec_conv = _spec(args.method, args.p if args.p_conv is None else args.p_conv,
                      args.k if args.k_conv is None else args.k_conv, args.unified, args.variant)
    model = load_model(baseline)  # FileNotFoundError, FormatError, UsageError: one line
    from safetensors import safe_open

    with safe_open(str(baseline), framework="pt") as f:
        meta = f.metadata() or {}
    net, kwargs = meta.get("net"), json.loads(meta.get("kwargs", "{}"))
    data = _data_name(args, baseline, net)
    try:
        recipe = get_recipe(f"{net}-{data}")
    except UnknownNameError:
        raise UsageError(f"data set {data!r} does not fit the network {net} "
                         f"(no recipe {net}-{data})") from None
    ds = _dataset(data, recipe, args.limit)
    _check_fits(model, ds, net, kwargs, data)
    test = (ds.x_test, ds.y_test)
    families = {"dense": compressible_layers(model)["dense"], "conv": compressible_layers(model)["conv"]}
    targets = ("dense", "conv") if args.target == "both" else (args.target,)
    if not any(families[t] for t in targets):
        raise UsageError(f"{net} has no {args.target} layers to compress")

    baseline_metric = evaluate(model, test, recipe.metric)
    hook = compress_model(model, dense=spec_dense if "dense" in targets else None,
                          conv=spec_conv if "conv" in targets else None, seed=args.seed)
    before = evaluate(model, test, recipe.metric)
    if args.epochs:
        train, val = ds.holdout(recipe.val_fraction, args.seed)
        fit_kwargs = {**recipe.fit_kwargs(), "epochs": args.epochs, "lr": args.lr, "lr_schedule": None}
        fit(model, train, val, hooks=[hook], device="cpu", seed=args.seed,
            progress=not args.no_progress, **fit_kwargs)
        hook.check()
    model = model.cpu().eval()
    after = evaluate(model, test, recipe.metric)
    comp = to_compressed(model, hook, formats=args.format)
    with torch.no_grad():
        after_compressed = evaluate(comp, test, recipe.metric, batch_size=256)

    specs = {"dense": spec_dense, "conv": spec_conv}
    layers = {lc.name: {"method": specs[lc.kind].method, "k": lc.k, "kind": lc.kind}
              for lc in hook.layers}
    psi = _psi_table(model, comp)
    out = Path(args.out) if args.out else baseline.parent / "model.cnn.safetensors"
    metadata = {
        "data": data, "recipe": f"{net}-{data}", "metric": recipe.metric,
        "baseline": baseline_metric, "before_retraining": before, "after_retraining": after,
        "compressed": after_compressed, "psi": psi, "limit": args.limit,
        "config": {k: getattr(args, k) for k in ("method", "p", "k", "target", "p_conv", "k_conv",
                                                 "unified", "variant", "epochs", "lr", "format",
                                                 "seed")},
        "baseline_file": str(baseline),
    }
    size = save_compressed(comp, out, metadata, net=net, net_kwargs=kwargs, layers=layers)

    metric = recipe.metric
    print(f"{'':24}{metric:>10}")
    for label, value in (("baseline", baseline_metric), ("compressed, not retrained", before),
                         ("retrained", after), ("compressed modules", after_compressed)):
        print(f"{label:<26}{value:>8.4f}")
    for kind in ("dense", "conv", "network"):
        value = psi.get(kind)
        print(f"psi {kind:<22}{'-' if value is None else f'{value:8.4f}':>8}")
    print(f"file {str(out)} ({size} bytes)")
    for lc in hook.layers:
        M = comp.get_submodule(lc.name).matrix
        shape = f"{M.shape[0]}x{M.shape[1]}"
        print(f"  {lc.name:<22} {lc.kind:<5} {shape:<11} {M.format:<10} "
              f"psi {M.psi:.4f}")
    return 0


# ---- evaluate --------------------------------------------------------------------
def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``evaluate`` command."""
    parser.add_argument("file", help="compressed model file (written by `compress`)")
    parser.add_argument("--data", help="data set (default: the one the file was compressed on)")
    parser.add_argument("--batch", type=int, default=256, help="batch size (default %(default)s)")
    parser.add_argument("--threads", type=int, help="kernel and torch threads (default: all cores)")
    parser.add_argument("--limit", type=int, help="use only the first N test samples")


def _forward_seconds(model, xs, batch: int) -> float:
    import torch

    n = len(xs[0])
    t0 = time.perf_counter()
    with torch.no_grad():
        for start in range(0, n, batch):
            model(*(x[start:start + batch] for x in xs))
    return time.perf_counter() - t0


def run_evaluate(args: argparse.Namespace) -> int:
    """The ``evaluate`` command; returns the exit status."""
    import torch

    from .compressed import set_default_threads
    from .modelfile import load_compressed, load_dense, read_header
    from .recipes import get_recipe
    from .train import evaluate

    _check_number("batch", args.batch, 1)
    _check_number("threads", args.threads, 1)
    _check_number("limit", args.limit, 1)
    path = Path(args.file)
    if not path.exists():
        raise FileNotFoundError(f"compressed model file {str(path)!r} not found")
    header = read_header(path)
    net, kwargs = header["architecture"]["net"], header["architecture"]["kwargs"] or {}
    if net is None:
        raise UsageError(f"{path} holds a user architecture: evaluate it from Python with "
                         "load_compressed(path, model=MyNet())")
    data = args.data or header["metadata"].get("data") or DEFAULT_DATA.get(net, "mnist5k")
    try:
        recipe = get_recipe(f"{net}-{data}")
    except UnknownNameError:
        raise UsageError(f"data set {data!r} does not fit the network {net} "
                         f"(no recipe {net}-{data})") from None
    comp = load_compressed(path)
    dense = load_dense(path)
    ds = _dataset(data, recipe, args.limit)
    _check_fits(dense, ds, net, kwargs, data)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    set_default_threads(args.threads)
    try:
        metric = evaluate(comp, (ds.x_test, ds.y_test), recipe.metric, batch_size=args.batch)
        xs = tuple(torch.as_tensor(x) for x in (ds.x_test if isinstance(ds.x_test, tuple)
                                                 else (ds.x_test,)))
        # paired and interleaved: same inputs, batches and threads; best of three
        t_comp, t_dense = [], []
        for _ in range(3):
            t_comp.append(_forward_seconds(comp, xs, args.batch))
            t_dense.append(_forward_seconds(dense, xs, args.batch))
    finally:
        set_default_threads(None)
    tc, td = min(t_comp), min(t_dense)
    print(f"{path}: {net} on {data} ({len(ds.y_test)} test samples, batch {args.batch}, "
          f"threads {args.threads or 'all'})")
    print(f"{recipe.metric:<12}{metric:.4f}")
    print(f"forward     {tc:.4f} s compressed, {td:.4f} s uncompressed, "
          f"time ratio {tc / td if td else float('nan'):.3f}")
    return 0

