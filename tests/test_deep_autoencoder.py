"""The deep autoencoder: pretraining stacks the layers exactly, fine-tuning lowers the error,
seeds, settings and bad input."""

import numpy as np
import pytest

import relustep
from relustep.estimators import RBM, Autoencoder, DeepAutoencoder


@pytest.fixture(scope="module")
def digits():
    return relustep.datasets.load("digits").X_train[:240] / 16


@pytest.mark.parametrize("pretrain, layer_class", [("rbm", RBM), ("autoencoder", Autoencoder)])
def test_unrolled_network_is_the_stack_of_the_pretrained_layers(digits, pretrain, layer_class):
    model = DeepAutoencoder(
        (20, 6), pretrain=pretrain, pretrain_epochs=2, epochs=0, batch_size=40, random_state=0
    ).fit(digits)
    first, second = model.layers_
    assert isinstance(first, layer_class) and isinstance(second, layer_class)
    assert first.visible == "sigmoid" and second.visible == "relu"
    code = second.transform(first.transform(digits))
    np.testing.assert_allclose(model.transform(digits), code, rtol=1e-12)
    # the decoder starts as the transposed encoder with each layer's visible bias
    middle = np.maximum(code @ second.components_ + second.intercept_visible_, 0)
    expected = 1 / (1 + np.exp(-(middle @ first.components_ + first.intercept_visible_)))
    np.testing.assert_allclose(model.reconstruct(digits), expected, rtol=1e-12)
    assert model.history_["epochs"]["train_loss"] == []  # no fine-tuning was asked for


def test_fine_tuning_lowers_the_reconstruction_error(digits):
    settings = {"pretrain_epochs": 2, "batch_size": 40, "random_state": 0}
    pretrained = DeepAutoencoder((20, 6), epochs=0, **settings).fit(digits)
    tuned = DeepAutoencoder((20, 6), epochs=4, **settings).fit(digits, validation_data=digits)
    assert tuned.reconstruction_error(digits) < pretrained.reconstruction_error(digits)
    assert len(tuned.history_["epochs"]["val_loss"]) == 4


def test_pretraining_helps_compared_with_random_weights(digits):
    settings = {"epochs": 0, "batch_size": 40, "random_state": 0}
    pretrained = DeepAutoencoder((20, 6), pretrain_epochs=3, **settings).fit(digits)
    random = DeepAutoencoder((20, 6), pretrain="none", **settings).fit(digits)
    assert random.layers_ == []
    assert pretrained.reconstruction_error(digits) < random.reconstruction_error(digits)


def test_each_layer_gets_its_own_step_rule(digits):
    model = DeepAutoencoder(
        (12, 4),
        pretrain_step=["golovko", {"name": "adam", "lr": 0.01}],
        pretrain_epochs=1,
        epochs=1,
        batch_size=60,
        random_state=0,
    ).fit(digits)
    assert model.layers_[0].step_.name == "golovko"
    assert model.layers_[1].step_.name == "adam" and model.layers_[1].step_.lr == 0.01
    with pytest.raises(ValueError, match="pretrain_step"):
        DeepAutoencoder((12, 4), pretrain_step=["adam"]).fit(digits)


def test_same_seed_same_bits(digits):
    runs = [
        DeepAutoencoder((10, 3), pretrain_epochs=1, epochs=1, batch_size=60, random_state=2).fit(
            digits
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].parameters_, runs[1].parameters_)
    assert runs[0].history_["loss"] == runs[1].history_["loss"]


def test_save_and_load_with_step_rule_objects(digits, tmp_path):
    model = DeepAutoencoder(
        (10, 3),
        pretrain_step=[relustep.steps.Golovko(verify=True), "adam"],
        pretrain_epochs=1,
        epochs=1,
        batch_size=60,
        random_state=0,
    ).fit(digits)
    model.save(tmp_path / "deep.npz")
    loaded = relustep.load(tmp_path / "deep.npz")
    assert type(loaded) is DeepAutoencoder
    np.testing.assert_array_equal(loaded.transform(digits), model.transform(digits))
    assert isinstance(model.pretrain_step[0], relustep.steps.Golovko)  # left as it was
    assert loaded.pretrain_step[0] == {
        "name": "golovko",
        "form": "gram",
        "verify": True,
        "max_halvings": 30,
    }


BAD = [
    ({"hidden_layer_sizes": ()}, TypeError, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": (4, 0)}, ValueError, "hidden_layer_sizes"),
    ({"pretrain": "pca"}, ValueError, "pretrain"),
    ({"pretrain_epochs": 0}, ValueError, "pretrain_epochs"),
    ({"pretrain_step": "nope"}, ValueError, "pretrain_step"),
    ({"epochs": -1}, ValueError, "epochs"),
    ({"visible": "tanh"}, ValueError, "visible"),
]


@pytest.mark.parametrize("settings, error, match", BAD)
def test_bad_settings_are_named(digits, settings, error, match):
    with pytest.raises(error, match=match):
        DeepAutoencoder(**{"hidden_layer_sizes": (4, 2), **settings}).fit(digits)


def test_bad_data_is_named():
    with pytest.raises(ValueError, match="X"):
        DeepAutoencoder((4, 2)).fit(np.full((3, 5), np.inf))
