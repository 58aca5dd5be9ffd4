"""Search spaces: every sample is a valid spec made for the dataset."""
import optuna
import pytest

from edgeformer.data import load_dataset
from edgeformer.errors import UserError
from edgeformer.nas.space import SPACES, patch_sizes, space
from edgeformer.specs import LMUFormerSpec, ViTSpec, spec_from_dict


@pytest.mark.parametrize("family,dataset,cls", [("vit", "digits", ViTSpec), ("spiking-vit", "digits", ViTSpec),
                                                ("lmuformer", "fsdd", LMUFormerSpec),
                                                ("spiking-lmuformer", "fsdd", LMUFormerSpec),
                                                ("lmuformer", "fashion-mnist-rows", LMUFormerSpec)])
def test_samples_are_valid_specs_for_the_dataset(family, dataset, cls):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ds = load_dataset(dataset)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(40):
        spec = SPACES[family].suggest(study.ask(), ds)   # a spec validates itself on construction
        assert isinstance(spec, cls) and tuple(spec.input_shape) == tuple(ds.input_shape)
        assert spec.num_classes == ds.num_classes and spec_from_dict(spec.to_dict()) == spec
        assert getattr(spec, "spiking", False) == (family == "spiking-lmuformer")
        assert getattr(spec, "spiking_mlp", False) == (family == "spiking-vit")
        seen.add(spec)
    assert len(seen) > 30                               # the axes really vary
    for spec in SPACES[family].corners(ds):
        assert isinstance(spec, cls)


def test_patch_sizes_and_errors():
    assert patch_sizes(8) == (1, 2, 4) and patch_sizes(28) == (2, 4, 7, 14)
    with pytest.raises(UserError, match="known families"):
        space("cnn")
    with pytest.raises(UserError, match="lmuformer"):
        SPACES["vit"].suggest(optuna.create_study().ask(), load_dataset("fsdd"))


def test_row_sequential_fashion_mnist_is_the_image_set_read_by_rows():
    seq, img = load_dataset("fashion-mnist-rows"), load_dataset("fashion-mnist")
    assert seq.kind == "sequence" and seq.input_shape == (28, 28) and seq.num_classes == 10
    assert (seq.x_test[7] == img.x_test[7, 0]).all() and (seq.y_train == img.y_train).all()


@pytest.mark.parametrize("family,dataset", [("vit", "digits"), ("spiking-vit", "digits"), ("lmuformer", "fsdd"),
                                            ("spiking-lmuformer", "fsdd"), ("lmuformer", "fashion-mnist-rows")])
def test_params_of_reproduces_every_sampled_spec(family, dataset):
    """A warm start's params: suggest() under them gives the spec back, for samples of every space."""
    from edgeformer.nas.space_start import params_of
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ds = load_dataset(dataset)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(15):
        trial = study.ask()
        spec = SPACES[family].suggest(trial, ds)
        params = params_of(SPACES[family], spec, ds)
        assert params == trial.params
        assert SPACES[family].suggest(optuna.trial.FixedTrial(params), ds) == spec


def test_params_of_adapts_a_preset_to_the_dataset_and_names_what_the_space_lacks():
    import dataclasses

    from edgeformer.nas.space_start import params_of
    from edgeformer.zoo import preset
    rows = load_dataset("fashion-mnist-rows")
    spec = SPACES["lmuformer"].suggest(optuna.trial.FixedTrial(params_of(SPACES["lmuformer"], preset("lmuformer-fsdd"),
                                                                         rows)), rows)
    fsdd = preset("lmuformer-fsdd")   # made for 13 features x 32 steps: same architecture on 28 x 28
    assert (spec.in_features, spec.seq_len, spec.patch_channels, spec.dim, spec.memory_order) == \
        (28, 28, fsdd.patch_channels, fsdd.dim, fsdd.memory_order)
    assert spec.theta == 28.0   # theta / seq_len (1.0) is the axis
    with pytest.raises(UserError, match="dim = 40 is not in the lmuformer space"):
        params_of(SPACES["lmuformer"], dataclasses.replace(fsdd, dim=40), rows)
    with pytest.raises(UserError, match="lmuformer spec is not in the vit space"):
        params_of(SPACES["vit"], fsdd, load_dataset("digits"))
