"""Warm starts: a known model (a zoo preset, a user's spec) as Optuna params of a search space.

`params_of` answers each of the space's `suggest_categorical` calls from the spec, so the
space's own `suggest` code reproduces it; the study enqueues those params as its first trials.
Its own module: nas/space.py is part of the supernet cache key (supernet_train.code_hash).
"""
from __future__ import annotations

from edgeformer.errors import UserError
from edgeformer.nas.space import Space
from edgeformer.specs import Spec


class _SpecTrial:
    """Answers `suggest_categorical` from a spec, so `suggest` reproduces it: the Optuna params
    that make a known model (a zoo preset, a user's spec) one of the study's trials."""

    def __init__(self, spec: Spec, family: str) -> None:
        self.spec, self.family = spec, family
        self.params: dict[str, object] = {}

    def _value(self, name: str):
        s = self.spec
        if name == "patch_layers":
            return len(s.patch_channels)
        if name.startswith("patch_width"):
            i = int(name[len("patch_width"):])
            return s.patch_channels[i] if i < len(s.patch_channels) else None
        if name == "theta_fraction":
            return s.theta / s.seq_len
        return getattr(s, name, None)

    def suggest_categorical(self, name: str, choices):
        want = self._value(name)
        for c in choices:
            if want is not None and (c == want or (isinstance(c, float) and abs(c - float(want)) < 1e-9)):
                self.params[name] = c
                return c
        raise UserError(f"the spec's {name} = {want} is not in the {self.family} space (choices: "
                        f"{', '.join(str(c) for c in choices)})")


# Fields the dataset fixes: a start spec made for another dataset (a zoo preset for fsdd, used on
# fashion-mnist-rows) keeps its architecture and takes the dataset's input and classes.
DATA_FIELDS = frozenset({"in_features", "seq_len", "in_channels", "image_size", "num_classes"})


def params_of(sp: Space, spec: Spec, ds) -> dict[str, object]:
    """The Optuna params under which `sp.suggest` gives `spec`'s architecture for `ds`;
    UserError when the space cannot express it (an axis value it lacks, another family)."""
    if spec.family != sp.arch:
        raise UserError(f"a {spec.family} spec is not in the {sp.family} space")
    trial = _SpecTrial(spec, sp.family)
    got = sp.suggest(trial, ds)
    want, have = _architecture(spec), _architecture(got)
    diff = sorted(k for k in want if have.get(k) != want[k])
    if diff:
        raise UserError(f"the spec is not in the {sp.family} space for {ds.name}: "
                        + ", ".join(f"{k} {want[k]} (the space gives {have.get(k)})" for k in diff))
    return trial.params


def _architecture(spec: Spec) -> dict:
    """The spec's fields less those the dataset fixes; theta as its fraction of the sequence."""
    d = {k: v for k, v in spec.to_dict().items() if k not in DATA_FIELDS}
    if "theta" in d:
        d["theta"] = d["theta"] / spec.seq_len
    return d
