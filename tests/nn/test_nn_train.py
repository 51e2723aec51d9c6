"""The training loop: determinism, best epoch, early stopping, hooks, metrics."""
import numpy as np
import pytest
import torch
from torch import nn

from compactnn.errors import UnknownNameError
from compactnn.nn import DeepDTA, Hook, RandomCrop, StepSchedule, evaluate, fit, resolve_device


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(32, 3))


def blobs(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, 1, 4, 4)) + 2 * y[:, None, None, None]).astype(np.float32)
    return x, y.astype(np.int64)


def test_same_seed_gives_identical_runs_on_cpu():
    runs = []
    for _ in range(2):
        model = mlp()
        hist = fit(model, blobs(), blobs(seed=1), epochs=3, batch_size=16, seed=5, progress=False)
        runs.append((model.state_dict(), hist["train_loss"]))
    (s0, l0), (s1, l1) = runs
    assert l0 == l1
    assert all(torch.equal(s0[k], s1[k]) for k in s0)


class WreckLastEpoch(Hook):
    """Zeroes the output layer during the last epoch: its model predicts one class."""

    def __init__(self, layer, from_step):
        self.layer, self.from_step, self.step = layer, from_step, 0

    @torch.no_grad()
    def after_step(self):
        self.step += 1
        if self.step > self.from_step:
            self.layer.weight.zero_()
            self.layer.bias.zero_()


def test_best_epoch_is_restored():
    model = mlp()
    hook = WreckLastEpoch(model[-1], from_step=3 * 6)  # 6 batches per epoch
    hist = fit(model, blobs(), blobs(seed=1), epochs=4, lr=1e-2, batch_size=16, hooks=[hook],
               progress=False)
    assert hist["val_metric"][3] < 0.5 < hist["best_val_metric"]
    assert hist["best_epoch"] < 3
    assert evaluate(model, blobs(seed=1)) == hist["best_val_metric"]
    assert model[-1].weight.abs().sum() > 0


def test_early_stopping_after_patience_epochs_without_improvement():
    hist = fit(mlp(), blobs(), blobs(seed=1), epochs=10, lr=0.0, patience=2, progress=False)
    assert hist["stopped_early"] and len(hist["epoch"]) == 4 and hist["best_epoch"] == 0


def test_history_reports_throughput_and_device():
    hist = fit(mlp(), blobs(), None, epochs=1, progress=False)
    assert hist["device"] == "cpu" and hist["samples_per_s"] > 0 and hist["best_epoch"] == 0
    assert hist["val_metric"] == [None]


class Recorder(Hook):
    def __init__(self):
        self.calls = []

    def before_step(self):
        self.calls.append("before")

    def after_step(self):
        self.calls.append("after")


def test_hooks_run_around_every_optimizer_step():
    rec = Recorder()
    fit(mlp(), blobs(n=40), epochs=2, batch_size=16, hooks=[rec], progress=False)
    assert rec.calls == ["before", "after"] * 6  # 3 batches (16, 16, 8) per epoch


def test_sgd_with_weight_decay_and_schedule_trains():
    model = mlp()
    hist = fit(model, blobs(), blobs(seed=1), epochs=3, optimizer="sgd", lr=0.1, momentum=0.9,
               nesterov=True, weight_decay=5e-4, lr_schedule=StepSchedule((2,), 0.1),
               progress=False)
    assert hist["lr"] == pytest.approx([0.1, 0.1, 0.01])
    assert hist["train_loss"][-1] < hist["train_loss"][0]


def test_step_schedule_counts_milestones():
    s = StepSchedule((80, 120), 0.1)
    assert [s(0), s(79), s(80), s(119), s(120)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])


def test_random_crop_is_a_shifted_window_of_the_zero_padded_image():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5)
    g = torch.Generator().manual_seed(0)
    out = RandomCrop(pad=2)(x, g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for b in range(2):
        windows = [padded[b, :, i:i + 5, j:j + 5] for i in range(5) for j in range(5)]
        assert any(torch.equal(out[b], w) for w in windows)
    assert torch.equal(RandomCrop(pad=0)(x, g), x)
    flipped = RandomCrop(pad=0, flip=True)(x, torch.Generator().manual_seed(1))
    assert all(torch.equal(f, i) or torch.equal(f, i.flip(2)) for f, i in zip(flipped, x))


def test_regression_with_two_inputs_uses_mse():
    rng = np.random.default_rng(0)
    lig = rng.integers(1, 65, (32, 12))
    prot = rng.integers(1, 26, (32, 30))
    y = rng.normal(size=32).astype(np.float32)
    model = DeepDTA(num_filters=4)
    hist = fit(model, ((lig, prot), y), ((lig, prot), y), epochs=2, batch_size=8, loss="mse",
               metric="mse", progress=False)
    assert np.isfinite(hist["train_loss"]).all()
    with torch.no_grad():
        pred = model.eval()(torch.as_tensor(lig), torch.as_tensor(prot)).double().numpy()
    assert evaluate(model, ((lig, prot), y), "mse") == pytest.approx(np.mean((pred - y) ** 2))


def test_evaluate_accuracy_counts_argmax_hits():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    x = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32)
    assert evaluate(model, (x, np.array([0, 1, 1, 1])), batch_size=3) == 0.75


@pytest.mark.parametrize("kwargs", [{"optimizer": "rmsprop"}, {"loss": "hinge"},
                                    {"metric": "auc"}, {"augment": "rotate"}])
def test_unknown_names_are_rejected(kwargs):
    with pytest.raises(UnknownNameError):
        fit(mlp(), blobs(), epochs=1, progress=False, **kwargs)


def test_mismatched_lengths_are_rejected():
    x, y = blobs()
    with pytest.raises(ValueError, match="lengths"):
        fit(mlp(), (x, y[:-1]), epochs=1, progress=False)


def test_auto_device_is_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
