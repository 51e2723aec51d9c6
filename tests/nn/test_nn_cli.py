"""`python -m compactnn train` and the recipes."""
import argparse
import json
import subprocess
import sys

import pytest

from compactnn.errors import UsageError
from compactnn.nn import MODELS, RECIPES, Recipe, evaluate, get_recipe, load_model
from compactnn.nn import train_cli


def test_importing_the_cli_module_does_not_import_torch():
    code = ("import sys, compactnn.nn.train_cli, compactnn.__main__ as m; m.build_parser(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def parse(*argv):
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_train_writes_safetensors_and_metrics(tmp_path):
    args = parse("--data", "digits", "--epochs", "2", "--out", str(tmp_path), "--no-progress",
                 "--device", "cpu")
    assert train_cli.run(args) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["net"] == "small_vgg" and metrics["data"] == "digits"
    assert metrics["recipe"]["epochs"] == 2 and metrics["device"] == "cpu"
    assert metrics["n_train"] + metrics["n_val"] == 1437 and metrics["n_test"] == 360
    for key in ("torch_version", "elapsed_s", "samples_per_s", "history", "model_kwargs"):
        assert key in metrics
    assert metrics["metrics"]["test_accuracy"] > 0.2
    model = load_model(tmp_path / "model.safetensors")
    from compactnn.data import get_dataset
    ds = get_dataset("digits")
    assert evaluate(model, (ds.x_test, ds.y_test)) == metrics["metrics"]["test_accuracy"]


def test_unknown_net_data_pair_is_an_error(tmp_path):
    with pytest.raises(UsageError, match="does not fit --net deepdta: it trains on davis, kiba"):
        train_cli.run(parse("--net", "deepdta", "--data", "mnist5k", "--out", str(tmp_path)))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_names_a_model_and_valid_options(name):
    r = get_recipe(name)
    assert name.removesuffix("-reference") == f"{r.net}-{r.data}"  # "-reference": the authors' training
    assert r.net in MODELS and r.optimizer in ("adam", "sgd")
    assert r.loss in ("cross_entropy", "mse") and r.metric in ("accuracy", "mse")
    assert r.augment in (None, "crop", "crop-flip", "crop2")
    json.dumps(r.to_dict())


def test_paper_recipes_match_the_reference_hyper_parameters():
    vgg = get_recipe("vgg19-cifar10")
    assert (vgg.optimizer, vgg.lr, vgg.momentum, vgg.batch_size, vgg.weight_decay, vgg.augment) == \
        ("sgd", 0.1, 0.9, 128, 5e-4, "crop-flip")
    dta = get_recipe("deepdta-kiba")
    assert (dta.optimizer, dta.lr, dta.batch_size, dta.epochs, dta.loss) == ("adam", 1e-3, 256, 100, "mse")
    assert isinstance(vgg.replace(epochs=3), Recipe) and vgg.replace(epochs=3).epochs == 3


@pytest.mark.slow
def test_default_recipe_reaches_97_percent_on_mnist5k(tmp_path):
    assert train_cli.run(parse("--out", str(tmp_path), "--no-progress", "--device", "cpu")) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["metrics"]["test_accuracy"] >= 0.97
