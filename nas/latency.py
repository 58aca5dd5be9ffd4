"""The search's latency objective: a per-op cost model calibrated by profile runs on the simulated board.

A lowered graph (what the memory model already builds for every candidate) is read as kernel
calls; each call has features (one call; MACs and outputs of an int8 fc / conv or act x act
matmul, the latter in three classes: fixed-k row loops, the two-output loop, the C loop;
elements of a norm, softmax, LUT, int8 binary op, data move, (de)quantiser, float op by kind;
a fused LIF neuron's elements; an event-driven spike-fed fc's scanned inputs, dense MACs and
outputs: its adds are the fired share of the MACs, so the fit prices them at the calibration
models' spike rate).
Instructions of a call = coefficients . features. The coefficients are fitted (non-negative
least squares on relative errors) to the per-layer instruction counts of real QEMU profiles
(-icount: exact counts) of a few calibration models of the same kind on the core's stand-in
board, then cached per core, kind and kernel source: when the kernels change, the model is
refitted. Latency = instructions / clock, the same instruction-count basis as `edgeformer
profile`. Streaming models (LMUFormer) are costed per whole sequence (step graph x seq_len).
"""
from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeformer.export.emit.record import Emission, NodeRecord, emit_nodes
from edgeformer.export.ir import Graph, Node
from edgeformer.export.kernel_limits import AA_FAST_K, AA_PAIR_MIN_K
from edgeformer.export.macs import node_macs
from edgeformer.specs import LMUFormerSpec, Spec, ViTSpec

ROW_LOOP = "ef.RowLoop"
# Kernel classes: op -> feature prefix. MAC-bound classes cost per MAC and per output (the
# epilogue); the others per element of their largest output.
# An int8 conv ("conv") gathers each output pixel's patch (im2col) before its fc: dearer per MAC.
MAC_OPS = {"ef.QMatMul": "fc", "ef.QGemm": "fc", "ef.QConv": "conv", "MatMulInteger": "fc", "ConvInteger": "conv",
           "QLinearMatMul": "fc", "QLinearConv": "conv", "ef.QMatMulAA": "aa",
           "MatMul": "fmac", "Gemm": "fmac", "Conv": "fmac"}
ELEM_OPS = {"ef.QLayerNorm": "norm", "LayerNormalization": "norm", "BatchNormalization": "norm",
            "ef.QSoftmax": "softmax", "Softmax": "softmax", "ef.LUT": "lut",
            "ef.QAdd": "qbinary", "ef.QMul": "qbinary", "ef.QSub": "qbinary",
            "QuantizeLinear": "quant", "DequantizeLinear": "dequant",
            # float ops (LMU state updates, LIF neurons): arithmetic, comparisons and casts
            # differ by 2x per element; anything else is "float"
            **{op: "fbin" for op in ("Add", "Sub", "Mul", "Div")},
            **{op: "fcmp" for op in ("Greater", "Less", "Equal", "GreaterOrEqual", "LessOrEqual", "Where")},
            "Cast": "fcast", "ef.LIF": "lif",
            **{op: "move" for op in ("Reshape", "Transpose", "Concat", "Slice", "Gather", "Squeeze", "Unsqueeze",
                                      "Flatten", "Identity", "Split", "Pad", "Expand", "Tile")}}
MAC_KINDS = ("fc", "conv", "fcr", "aa", "aap", "aas", "fmac")
ELEM_KINDS = ("norm", "softmax", "lut", "qbinary", "qbinary_ref", "quant", "dequant", "move", "fbin", "fcmp",
              "fcast", "float", "lif")
# Per kernel class: its work (MACs and outputs, or elements) and its calls: a call's fixed cost
# (argument set-up, prologue, epilogue) differs tenfold between a LUT and an fc, and decides a
# small streaming model's step. "alias": a node the emitter makes a zero-copy alias (no call).
FEATURES = ("calls", *(f"{k}_{u}" for k in MAC_KINDS for u in ("macs", "out")), *ELEM_KINDS, "row_copy",
            "spk_in", "spk_macs", "spk_out", *(f"{k}_calls" for k in (*MAC_KINDS, *ELEM_KINDS, "spk")), "alias",
            "fc_tail", "fmac_tail",
            "state")
# Costed between the ops, not by any one of them (fitted to what the profile's layers leave out):
# besides a fixed gap per op, the streaming step's state copies, per element of state_in.*.
GAP_FEATURES = ("state",)
SPIKE_FC = "ef.SpikeFC"   # ef_spike_fc_s8 (export/passes/spike_fc.py): scan, add fired rows, requantise
# Which kernel a node runs is read from its emitted record (export/emit/record.py), not
# guessed again here: an int8 fc / conv whose reduction is longer than the packed kernels take
# calls a row-major reference kernel ("fcr"), e.g. an LMU's [x, m] input of 128 + 4 x 64;
# ef_qbinary_s8's fast loops take one dense or scalar-broadcast axis (params rank 1), other
# broadcasts its reference loop ("qbinary_ref").
FC_REFERENCE = ("ef_qmatmul_s8", "ef_qconv2d_s8")
QBINARY_FAST = ("ef.QAdd", "ef.QSub", "ef.QMul")


def _numel(graph: Graph, names) -> int:
    return max((graph.tensors[n].numel for n in names if n and n in graph.tensors), default=0)


def node_features(graph: Graph, node: Node, rec: NodeRecord, times: int = 1) -> Counter:
    """Features of one top-level node (a row loop: its body x rows, plus its row copies);
    `rec`: the node's emitted record (a row loop's holds its body's calls too)."""
    f: Counter = Counter()
    if node.op == ROW_LOOP:
        body, rows = node.attrs["body"], int(node.attrs["rows"])
        for b in body.nodes:
            f.update(node_features(body, b, rec, times * rows))
        copies = len(node.attrs.get("row_inputs", ())) + len(node.attrs.get("row_outputs", ()))
        f["row_copy"] += times * rows * copies
        return f
    calls = rec.calls_of(node.name)
    if not calls:
        f["alias"] += times
        return f
    f["calls"] += times
    out = _numel(graph, node.outputs)
    if node.op == SPIKE_FC:
        f["spk_in"] += times * graph.tensors[node.inputs[0]].numel
        f["spk_macs"] += times * node_macs(graph, node)
        f["spk_out"] += times * out
        f["spk_calls"] += times
    elif node.op in MAC_OPS:
        k = MAC_OPS[node.op]
        if k == "aa":
            k = _aa_class(calls)
        if k in ("fc", "conv") and node.op.startswith("ef.") and any(c.kernel in FC_REFERENCE for c in calls):
            k = "fcr"
        macs = node_macs(graph, node)
        f[f"{k}_macs"] += times * macs
        f[f"{k}_out"] += times * out
        f[f"{k}_calls"] += times
        if k == "fc":
            f["fc_tail"] += times * sum(_fc_tail(c.params) for c in calls)
        elif k == "fmac" and out:
            n = graph.tensors[node.outputs[0]].shape[-1]
            f["fmac_tail"] += times * macs * (n % 16) // max(n, 1)
    else:
        kind = ELEM_OPS.get(node.op, "float")
        if kind == "qbinary" and not _qbinary_fast(node, calls):
            kind = "qbinary_ref"
        # elements: of the activations, not of a constant operand (a LUT's 256-entry table)
        acts = [n for n in node.inputs if n in graph.tensors and not graph.tensors[n].is_const]
        f[kind] += times * max(out, _numel(graph, acts))
        f[f"{kind}_calls"] += times
    return f


def _fc_tail(params: dict) -> int:
    """ef_fc_block's chunks outside its 4-chunk unrolled loop (ef_qfc.c: kc & 3 single steps
    per block of 4 outputs, each dearer than an unrolled one), over the call's rows."""
    if "kp" not in params or "n" not in params:
        return 0
    kc = int(params["kp"]) // 4
    return int(params.get("m", 1)) * -(-int(params["n"]) // 4) * (kc & 3)


def _aa_class(calls) -> str:
    """ef_qmatmul_aa_s8's loop for the call's reduction length (ef_qaa.c): an unrolled row
    loop ("aa"), the two-output loop ("aap") or the C loop ("aas")."""
    k = next(int(c.params["k"]) for c in calls if c.kernel == "ef_qmatmul_aa_s8")
    return "aa" if k in AA_FAST_K else "aap" if k >= AA_PAIR_MIN_K else "aas"


def _qbinary_fast(node: Node, calls) -> bool:
    """Whether ef_qbinary_s8 runs its fast loop: the broadcast the emitter squeezed is one axis."""
    return node.op in QBINARY_FAST and all(c.params.get("rank") == 1 for c in calls)


def graph_features(graph: Graph, emission: Emission | None = None) -> list[dict[str, int]]:
    """One feature dict per top-level node, in execution (= profile) order. `emission`: the
    graph's nodes as emitted at its plan (export/emit/record.py); without it they are emitted
    here at placeholder offsets (the kernel choices do not depend on where tensors live)."""
    if emission is None:
        emission = emit_nodes(graph, _Unplanned())
    feats = [dict(node_features(graph, n, rec)) for n, rec in zip(graph.nodes, emission.nodes)]
    state = sum(graph.tensors[n].numel for n in graph.inputs if n.startswith("state_in."))
    if state and feats:
        feats[0]["state"] = state   # a per-step cost, carried by the first op (the model is linear)
    return feats


def graph_totals(graph: Graph, emission: Emission | None = None) -> dict[str, int]:
    """The features summed over the graph, plus `nodes` (what the search stores per candidate)."""
    tot: Counter = Counter()
    for f in graph_features(graph, emission):
        tot.update(f)
    return {**dict(tot), "nodes": len(graph.nodes)}


class _Unplanned(dict):
    """Offsets for emitting before a plan: every tensor at 0 (the C text is not written)."""

    def __contains__(self, name) -> bool:
        return True

    def __missing__(self, name) -> int:
        return 0


def _row(f: dict[str, int]) -> np.ndarray:
    return np.array([f.get(k, 0) for k in FEATURES], dtype=np.float64)


@dataclass(frozen=True)
class LatencyModel:
    """Fitted instructions per feature unit for one core and kind; gap = instructions between ops."""

    core: str
    kind: str
    coef: dict[str, float]
    gap_per_op: float
    fit: dict[str, Any]

    def instructions(self, features: list[dict[str, int]]) -> float:
        w = np.array([self.coef.get(k, 0.0) for k in FEATURES])
        return float(sum(_row(f) @ w for f in features) + self.gap_per_op * len(features))

    def latency_ms(self, features: list[dict[str, int]], clock_hz: int, steps: int = 1) -> float:
        return self.instructions(features) * steps / clock_hz * 1e3

    def instructions_totals(self, totals: dict[str, int]) -> float:
        """instructions() from graph_totals(): the model is linear, so sums give the same figure."""
        w = np.array([self.coef.get(k, 0.0) for k in FEATURES])
        return float(_row(totals) @ w + self.gap_per_op * totals.get("nodes", 0))

    def estimate_ms(self, spec: Spec, totals: dict[str, int], clock_hz: int) -> float:
        """One inference of `spec` at `clock_hz`: a streaming model's whole sequence (seq_len steps)."""
        steps = spec.seq_len if spec.family == "lmuformer" else 1
        return self.instructions_totals(totals) * steps / clock_hz * 1e3


def fit(samples: list[tuple[list[dict[str, int]], list[int], int]], core: str, kind: str) -> LatencyModel:
    """samples: (per-node features, per-layer instructions, instructions_total) of profiled models."""
    from scipy.optimize import nnls

    x = np.array([_row(f) for feats, _, _ in samples for f in feats])
    y = np.array([float(c) for _, counts, _ in samples for c in counts])
    # Relative errors per layer: a 200-instruction quantiser and a 1M-instruction block count
    # alike, else the big blocks of the calibration set decide every coefficient.
    x, y = x / np.maximum(y, 1.0)[:, None], y / np.maximum(y, 1.0)
    gap_cols = np.isin(FEATURES, GAP_FEATURES)
    used = x.any(axis=0) & ~gap_cols
    # Columns scaled to unit norm: MACs (1e5) and calls (1e1) differ by orders of magnitude.
    scale = np.where(used, np.linalg.norm(x, axis=0), 1.0)
    sol, _ = nnls(x[:, used] / scale[used], y)
    coef = np.zeros(len(FEATURES))
    coef[used] = sol / scale[used]
    # What the layers leave out of the total: a gap per op plus the GAP_FEATURES, relative to the total.
    g = np.array([[len(feats), *sum(_row(f) for f in feats)[gap_cols]] for feats, _, _ in samples])
    gap = np.array([float(total - sum(counts)) for _, counts, total in samples])
    w = 1.0 / np.array([float(total) for _, _, total in samples])
    gsol = _nnls_scaled(g * w[:, None], gap * w)
    coef[gap_cols] = gsol[1:]
    model = LatencyModel(core, kind, {k: float(c) for k, c in zip(FEATURES, coef) if c}, float(gsol[0]), {})
    errs = [abs(model.instructions(feats) - total) / total for feats, _, total in samples]
    return LatencyModel(core, kind, model.coef, model.gap_per_op,
                        {"models": len(samples), "layers": int(len(y)), "max_rel_err_total": float(max(errs)),
                         "mean_rel_err_total": float(np.mean(errs))})


def _nnls_scaled(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares with unit-norm columns (unused columns get 0)."""
    from scipy.optimize import nnls

    used = x.any(axis=0)
    out = np.zeros(x.shape[1])
    if used.any():
        scale = np.linalg.norm(x[:, used], axis=0)
        out[used] = nnls(x[:, used] / scale, y)[0] / scale
    return out


# ------------------------------------------------------------------ calibration runs
def calibration_specs(kind: str) -> list[Spec]:
    """Small models of `kind` that vary every axis the kernels' costs depend on."""
    spiking = kind.endswith("spiking")
    if kind.startswith("vit"):
        # 4 to 196 tokens (the space's range); dims 16..128; head dims 6..48 (all three paths
        # of the attention matmul); low rank. 196 tokens (28x28 in 2x2 patches): softmax rows
        # and attn x V reductions of that length, which the 16x16 models never reach; with dims
        # 32..128 and head dims 16 and 32 too (q.k's unrolled loops over 196-token rows).
        return [ViTSpec(in_channels=1, image_size=s, patch_size=p, dim=d, depth=dep, heads=h, mlp_ratio=m,
                        low_rank_ratio=r, num_classes=10, spiking_mlp=spiking)
                for s, p, d, dep, h, m, r in ((16, 4, 16, 1, 1, 1.0, 1.0), (16, 2, 32, 2, 2, 2.0, 1.0),
                                              (16, 4, 48, 1, 4, 4.0, 0.5), (16, 4, 64, 2, 4, 0.5, 0.25),
                                              (16, 2, 24, 1, 1, 3.0, 1.0), (16, 8, 96, 1, 2, 2.0, 1.0),
                                              (16, 2, 64, 1, 4, 1.0, 0.5), (16, 4, 32, 3, 4, 2.0, 1.0),
                                              (28, 2, 16, 1, 2, 2.0, 1.0), (28, 4, 24, 1, 1, 1.0, 1.0),
                                              (16, 4, 128, 1, 4, 2.0, 1.0), (28, 2, 32, 1, 2, 3.0, 1.0),
                                              (28, 4, 128, 1, 8, 2.0, 1.0), (28, 2, 96, 1, 3, 1.0, 1.0))]
    # memory inputs 2..4: the broadcasts of a multi-input memory, and [x, m] inputs longer than
    # KMAX (16 or 48 + 4 x 64) that take the reference fc.
    return [LMUFormerSpec(in_features=f, seq_len=8, patch_channels=pc, patch_kernel=k, dim=d, memory_order=o,
                          theta=8.0, memory_inputs=mi, hidden=hid, mlp_ratio=m, depth=dep, spiking=spiking)
            for f, pc, k, d, o, mi, hid, m, dep in (
                (4, (8,), 3, 8, 4, 1, 8, 1.0, 1), (13, (16, 32), 3, 32, 16, 1, 32, 2.0, 1),
                (8, (16,), 5, 48, 8, 1, 64, 0.5, 2), (13, (32, 64), 1, 64, 32, 1, 16, 4.0, 1),
                (13, (64,), 3, 96, 64, 1, 128, 1.0, 1), (6, (8, 16), 5, 16, 16, 1, 8, 2.0, 3),
                (13, (16,), 3, 16, 64, 4, 32, 1.0, 1), (8, (16,), 3, 48, 64, 4, 64, 2.0, 1),
                (8, (16,), 3, 32, 16, 2, 64, 2.0, 2))]


def stand_in(core: str):
    from edgeformer.runtime.boards import Board, Region
    from edgeformer.targets.cores import target

    t = target(core)   # the core's stand-in, as targets/ declares it, with its own memory sizes
    s = t.stand_in     # (a model over them fails at the link, not with a fault in QEMU); a
    # stand-in sized to the image (the micro:bit's nRF51) gets 4 MiB, as the MPS2 machines have
    flash, ram = (4 << 20, 4 << 20) if s.sizable else (s.flash_bytes, s.ram_bytes)
    return Board(f"nas-{core}", "stand-in", core, 25_000_000, t.qemu_machine,
                 (Region("flash", "flash", 0, flash), Region("ram", "ram", 0x20000000, ram)))


def core_layout(core: str):
    """The emitter's context for `core`: its weight layout (Helium rows, Armv6-M bytes) where it
    has one, as `export --board` and the search's memory model (nas/memory.py) emit."""
    from contextlib import nullcontext

    from edgeformer.export.emit.ops_qlinear import core_features, weight_layout
    from edgeformer.targets.cores import target

    feats = tuple(sorted(target(core).features))
    return core_features(feats) if weight_layout(feats) else nullcontext()


def profile_sample(spec: Spec, core: str, work: Path) -> tuple[list[dict[str, int]], list[int], int]:
    """Export `spec` (untrained, seeded), profile it in QEMU, and pair its layers with features."""
    import torch

    from edgeformer.export.load import load_onnx
    from edgeformer.export.passes import PIPELINE, run
    from edgeformer.export.pipeline import Source, export_artifact
    from edgeformer.models import build
    from edgeformer.runtime.cross import build_firmware
    from edgeformer.runtime.profile import profile_qemu

    torch.manual_seed(0)
    with core_layout(core):   # the core's own kernels, as export --board and the memory model emit
        export_artifact(work, Source("preset", f"latency-{spec.family}", spec, build(spec).eval()),
                        log=lambda m: None)
        feats = graph_features(run(load_onnx(work / "model.int8.onnx"), PIPELINE))   # what the C runs
    board = stand_in(core)
    prof = profile_qemu(work, board, build_firmware(work, board))
    counts = [layer["instructions"] for layer in prof["layers"]]
    if len(counts) != len(feats):
        raise RuntimeError(f"profile has {len(counts)} layers, the lowered graph {len(feats)} nodes")
    return feats, counts, int(prof["instructions_total"])


def calibrate(core: str, kind: str, log: Callable[[str], None] = lambda m: None) -> LatencyModel:
    """Fit the model for `core`/`kind` from fresh profile runs; cached per kernel source."""
    from edgeformer.nas.memory import _tree_hash, cache_dir

    key = _tree_hash("export/kernels/*", "export/kernel_limits.py", "export/emit/*.py", "export/passes/*.py",
                     "export/memory/*.py", "runtime/firmware/*", "targets/*.py", "nas/latency.py")
    path = cache_dir() / f"latency-{core}-{kind}-{key}.json"
    if path.is_file():
        return LatencyModel(**json.loads(path.read_text()))
    from edgeformer.fsio import write_json

    samples = []
    specs = calibration_specs(kind)
    with tempfile.TemporaryDirectory(prefix="edgeformer-latency-") as tmp:
        for i, spec in enumerate(specs):
            log(f"calibrating the latency model on {core} ({kind}, profile {i + 1}/{len(specs)})")
            samples.append(profile_sample(spec, core, Path(tmp) / f"cal{i}"))
    model = fit(samples, core, kind)
    write_json(path, model.__dict__)
    return model


class LatencyObjective:
    """The search's latency objective: spec + its memory-model record -> estimated ms at the
    budget's clock, with one calibrated model per kind (calibrated on first use, thread-safe)."""

    def __init__(self, core: str, clock_hz: int, log: Callable[[str], None] = lambda m: None) -> None:
        import threading

        self.core, self.clock_hz, self.log = core, clock_hz, log
        self._models: dict[str, LatencyModel] = {}
        self._lock = threading.Lock()

    def model(self, spec: Spec) -> LatencyModel:
        from edgeformer.nas.memory import runtime_kind

        kind = runtime_kind(spec)
        with self._lock:
            if kind not in self._models:
                self._models[kind] = calibrate(self.core, kind, self.log)
            return self._models[kind]

    def __call__(self, spec: Spec, mem: dict[str, Any]) -> float:
        return self.model(spec).estimate_ms(spec, mem["latency_features"], self.clock_hz)
