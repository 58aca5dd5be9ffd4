"""npz:PATH with N x T integer token ids (a tokenizer's output) for a model over token ids:
read by the npz loader, and fed to the model as its integer input for calibration and verify."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeformer.data import load_dataset
from edgeformer.errors import UserError
from edgeformer.export.foreign_inputs import dataset_inputs

RNG = np.random.default_rng(0)   # provenance: seed 0, ids uniform in [0, 50)


def _save(tmp_path, x_train, x_test, **extra) -> str:
    path = tmp_path / "ids.npz"
    np.savez(path, x_train=x_train, y_train=np.zeros(len(x_train), np.int64), x_test=x_test,
             y_test=np.zeros(len(x_test), np.int64), **extra)
    return f"npz:{path}"


def _embedding_model(path, vocab=50, t=6):
    """ids (1, T) int64 -> Gather from a (vocab, 4) table: the id range is the table's rows."""
    table = numpy_helper.from_array(RNG.standard_normal((vocab, 4)).astype(np.float32), "table")
    g = helper.make_graph([helper.make_node("Gather", ["table", "ids"], ["y"], axis=0)], "g",
                          [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, t])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, t, 4])], [table])
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def test_2d_integer_ids_are_read_and_fed_back_as_the_models_ids(tmp_path):
    x_train, x_test = RNG.integers(0, 50, (8, 6)), RNG.integers(0, 50, (3, 6)).astype(np.int32)
    ds = load_dataset(_save(tmp_path, x_train, x_test))
    assert ds.kind == "sequence" and ds.input_shape == (6, 1) and "token ids" in ds.provenance
    ids, = dataset_inputs(_embedding_model(tmp_path / "m.onnx"), ds.x_train, ds.name)
    assert ids.dtype == np.int64 and ids.shape == (8, 1, 6)
    np.testing.assert_array_equal(ids[:, 0], x_train)


@pytest.mark.parametrize("x, extra, message", [
    (np.zeros((4, 6), np.float32), {}, "2-D float32; want"),                      # features, not ids
    (np.full((4, 6), 1 << 24, np.int64), {}, "beyond what float32 holds exactly"),
    (np.zeros((4, 6), np.int64), {"kind": np.array("image")}, "kind is 'image' but x_train is 2-D"),
])
def test_2d_arrays_that_are_not_token_ids_are_refused_by_name(tmp_path, x, extra, message):
    with pytest.raises(UserError, match=message) as e:
        load_dataset(_save(tmp_path, x, x[:2], **extra))
    assert str(tmp_path / "ids.npz") in str(e.value)


def test_ids_outside_the_embedding_table_are_refused(tmp_path):
    ds = load_dataset(_save(tmp_path, np.full((4, 6), 60), np.zeros((2, 6), np.int64)))
    with pytest.raises(UserError, match="embedding table has 50 rows"):
        dataset_inputs(_embedding_model(tmp_path / "m.onnx"), ds.x_train, ds.name)
