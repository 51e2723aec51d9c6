"""``python -m compactnn train``: train a baseline network and save it.

Writes ``model.safetensors`` (the state dict, with the network name and its
constructor arguments in the metadata, see :func:`compactnn.nn.models.load_model`) and
``metrics.json`` (test and validation metrics, the configuration, torch
version, device, elapsed time and throughput) into ``--out``.

torch is imported inside the functions only: this module is imported to build
the command line's ``--help``.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
from pathlib import Path

from .. import _cli
from .._files import write_text_atomic
from ..errors import UsageError

log = logging.getLogger(__name__)

DEFAULT_NET, DEFAULT_DATA = "small_vgg", "mnist5k"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``train`` command."""
    parser.add_argument("--net", default=DEFAULT_NET, help="network: vgg19, deepdta, small_vgg (default %(default)s)")
    parser.add_argument("--data", default=DEFAULT_DATA,
                        help="data set: mnist5k, digits, mnist, cifar10, davis, kiba (default %(default)s)")
    parser.add_argument("--recipe", help="named configuration (default: '<net>-<data>'), e.g. vgg19-cifar10")
    parser.add_argument("--epochs", type=_cli.positive_int, help="override the recipe's number of epochs")
    parser.add_argument("--lr", type=_cli.positive_float, help="override the recipe's learning rate")
    parser.add_argument("--batch-size", type=_cli.positive_int, help="override the recipe's batch size")
    parser.add_argument("--patience", type=_cli.positive_int, help="early-stopping patience (epochs)")
    parser.add_argument("--seed", type=_cli.seed, default=0, help="seed of initialisation, shuffling, split (default %(default)s)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where to train (default %(default)s: CUDA when available)")
    parser.add_argument("--data-root", default="data", help="cache of the full data sets (default %(default)s)")
    parser.add_argument("--download", action="store_true", help="download missing data files")
    parser.add_argument("--out", help="output folder (default results/baselines/<net>-<data>-s<seed>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Train, evaluate on the test set, save; returns the exit status."""
    import torch

    from ..data import get_dataset
    from .models import save_model
    from .recipes import get_recipe, train_recipe

    if args.recipe is None:
        _check_net_data(args.net, args.data)
    recipe = get_recipe(args.recipe or f"{args.net}-{args.data}")
    overrides = {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
                 "patience": args.patience}
    recipe = recipe.replace(**{k: v for k, v in overrides.items() if v is not None})
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: CUDA is not available on this machine; use --device cpu or auto")
    out = Path(args.out or f"results/baselines/{recipe.net}-{recipe.data}-s{args.seed}")
    ds = get_dataset(recipe.data, root=args.data_root, download=args.download)
    # the folder is created only once the inputs are known to be good (no empty folder left)
    out.mkdir(parents=True, exist_ok=True)
    log.info("training %s on %s", recipe.net, recipe.data)
    trained = train_recipe(recipe, ds, seed=args.seed, device=args.device, progress=not args.no_progress)
    model, kwargs, history, test = trained.model, trained.model_kwargs, trained.history, trained.test
    elapsed = trained.seconds
    log.info("test %s %.4f after %.1f s (best epoch %d; %d training samples, %s validation)",
             recipe.metric, test, elapsed, history["best_epoch"] + 1, trained.n_train, trained.n_val or "no")

    metrics = {
        "net": recipe.net, "data": recipe.data, "seed": args.seed,
        "metrics": {f"test_{recipe.metric}": test, f"val_{recipe.metric}": history["best_val_metric"],
                    "best_epoch": history["best_epoch"], "epochs_run": len(history["epoch"])},
        "recipe": recipe.to_dict(), "model_kwargs": kwargs,
        "n_train": trained.n_train, "n_val": trained.n_val, "n_test": ds.n_test,
        "torch_version": torch.__version__, "device": history["device"],
        "num_threads": torch.get_num_threads(), "python": platform.python_version(),
        "elapsed_s": elapsed, "train_s": history["train_s"],
        "samples_per_s": history["samples_per_s"], "history": history,
    }
    save_model(model, out / "model.safetensors", recipe.net, kwargs)   # written atomically
    write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2, default=str) + "\n")
    log.info("wrote %s", out)
    return 0


def _check_net_data(net: str, data: str) -> None:
    """A clear error for an unknown network or data set, or a pair without a recipe."""
    from ..data import DATASETS
    from .recipes import RECIPES

    pairs = {(r.net, r.data) for name, r in RECIPES.items() if not name.endswith("-reference")}
    nets = sorted({n for n, _ in pairs})
    if net not in nets:
        raise UsageError(f"--net {net!r}: unknown network; valid: {', '.join(nets)}")
    if data not in DATASETS:
        raise UsageError(f"--data {data!r}: unknown data set; valid: {', '.join(DATASETS)}")
    if (net, data) not in pairs:
        fits = sorted(d for n, d in pairs if n == net)
        raise UsageError(f"--data {data!r} does not fit --net {net}: it trains on {', '.join(fits)}")
