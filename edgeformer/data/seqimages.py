"""Row-sequential Fashion-MNIST: each 28x28 image read top to bottom as 28 steps of 28 pixels.

A public sequence benchmark that ships offline in the same Debian package as the image set
(dataset-fashion-mnist): sequential (row-by-row) MNIST-style tasks are the standard test of
recurrent and LMU models, and this one is far from solved by today's LMUFormer presets
(fsdd's 99%+ leaves no room to tell search from hand design). Official 60000/10000 split.
"""
from __future__ import annotations

from edgeformer.data.dataset import Dataset
from edgeformer.data.images import FASHION_MNIST_DIR, load_fashion_mnist


def load_fashion_mnist_rows(root=FASHION_MNIST_DIR) -> Dataset:
    img = load_fashion_mnist(root)
    return Dataset(
        name="fashion-mnist-rows", kind="sequence",
        x_train=img.x_train[:, 0], y_train=img.y_train, x_test=img.x_test[:, 0], y_test=img.y_test,
        num_classes=img.num_classes, input_shape=(28, 28),
        provenance=img.provenance + "; each image as a sequence of its 28 rows (T=28 steps, F=28 pixels)")
