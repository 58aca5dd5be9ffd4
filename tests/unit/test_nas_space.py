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
