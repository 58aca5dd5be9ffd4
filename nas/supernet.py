"""One-shot weight-sharing supernet (AutoFormer / MCUFormer style): one set of the largest
tensors per role; every spec of the search space is a slice of them.

The sub-network of a spec runs through the real model code: `build(spec)` made on the meta
device (shapes only, no memory) is called with `torch.func.functional_call` on the sliced
tensors, so the supernet cannot drift from what `edgeformer.models.build` makes, and
`inherit(spec)` is that same state_dict copied into a real model. Gradients flow through
the slices into the shared tensors. The layouts (which role, which slice) live in
supernet_vit.py and supernet_lmu.py; training in supernet_train.py.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

import numpy as np
import torch
from torch import nn

from edgeformer.nas.space import space
from edgeformer.nas.supernet_lmu import LMUFormerLayout
from edgeformer.nas.supernet_vit import ViTLayout
from edgeformer.specs import Spec

INIT_STD = 0.02
TEMPLATES_KEPT = 64  # meta modules cached per spec (a study re-asks the same specs)


def layout_for(family: str, ds):
    """The supernet layout of a search family (`--family` name) for a dataset."""
    sp = space(family)   # an unknown family fails here, with the known ones
    layout = ViTLayout if sp.arch == "vit" else LMUFormerLayout
    return layout.for_dataset(ds, spiking=sp.spiking)


def _key(role: str) -> str:
    return role.replace(":", "__")  # module attribute names may not hold ':' nicely in state_dict keys


class Supernet(nn.Module):
    """Shared weights of a whole search space (one dataset's input shape and classes)."""

    def __init__(self, layout, seed: int = 0) -> None:
        super().__init__()
        self.layout = layout
        gen = torch.Generator().manual_seed(seed)
        self.weights = nn.ParameterDict()
        for role, (shape, init) in layout.parameters().items():
            t = torch.empty(shape)
            if init == "normal":
                nn.init.trunc_normal_(t, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD, generator=gen)
            else:
                t.fill_(1.0 if init == "ones" else 0.0)
            self.weights[_key(role)] = nn.Parameter(t)
        for role, (shape, init) in layout.statistics().items():
            dtype = torch.long if init == "count" else torch.float32
            self.register_buffer(_key(role), torch.full(shape, 1.0 if init == "ones" else 0.0).to(dtype))
        self._templates: OrderedDict[Spec, nn.Module] = OrderedDict()

    # --- slicing ---------------------------------------------------------
    def _get(self, role: str) -> torch.Tensor:
        k = _key(role)
        return self.weights[k] if k in self.weights else getattr(self, k)

    @property
    def device(self) -> torch.device:
        return next(iter(self.weights.values())).device

    def sub_state(self, spec: Spec) -> dict[str, torch.Tensor]:
        """The state of `build(spec)` (non-persistent buffers included) as slices of the shared tensors."""
        self.layout.check(spec)
        return self.layout.state(self._get, spec, self.device)

    def _template(self, spec: Spec) -> nn.Module:
        from edgeformer.models import build

        m = self._templates.pop(spec, None)
        if m is None:
            with torch.device("meta"):
                m = build(spec)
        self._templates[spec] = m
        while len(self._templates) > TEMPLATES_KEPT:
            self._templates.popitem(last=False)
        return m

    def forward(self, x: torch.Tensor, spec: Spec) -> torch.Tensor:
        """Logits of the sub-network `spec` (train or eval mode follows the supernet's)."""
        m = self._template(spec).train(self.training)
        return torch.func.functional_call(m, self.sub_state(spec), (x,), strict=True)

    def inherit(self, spec: Spec) -> nn.Module:
        """A standalone `build(spec)` model holding the sub-network's weights (CPU, eval mode)."""
        from edgeformer.models import build

        model = build(spec)
        state = self.sub_state(spec)
        keep = model.state_dict().keys()
        model.load_state_dict({k: state[k].detach().to("cpu").clone() for k in keep}, strict=True)
        return model.eval()

    # --- evaluation ------------------------------------------------------
    @torch.no_grad()
    def recalibrate(self, spec: Spec, batches: Iterable[torch.Tensor]) -> None:
        """BatchNorm statistics of `spec` alone, averaged over `batches` (no-op without BatchNorm).

        Shared running statistics belong to no sub-network (every step trains another), so each
        candidate gets its own from a few training batches before it is evaluated or inherited.
        """
        if not self.layout.uses_batchnorm:
            return
        state = self.sub_state(spec)
        for k, t in state.items():
            if k.endswith("running_mean") or k.endswith("num_batches_tracked"):
                t.zero_()
            elif k.endswith("running_var"):
                t.fill_(1.0)
        m = self._template(spec).train(True)
        bns = [b for b in m.modules() if isinstance(b, nn.modules.batchnorm._BatchNorm)]
        for b in bns:
            b.momentum = None  # cumulative average over the calibration batches
        try:
            for xb in batches:
                torch.func.functional_call(m, state, (xb.to(self.device),), strict=True)
        finally:
            for b in bns:
                b.momentum = 0.1

    @torch.no_grad()
    def accuracy(self, spec: Spec, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> float:
        """Top-1 accuracy of the sub-network `spec` on (x, y) with the current statistics."""
        was = self.training
        self.eval()
        correct = 0
        try:
            for i in range(0, len(x), batch_size):
                xb = torch.from_numpy(x[i:i + batch_size]).to(self.device)
                pred = self(xb, spec).argmax(-1).cpu().numpy()
                correct += int((pred == y[i:i + batch_size]).sum())
        finally:
            self.train(was)
        return correct / max(1, len(x))
