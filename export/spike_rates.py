"""Spike rates of an int8 artifact's spike-fed layers, from onnxruntime on real test inputs.

The firmware cannot see which inputs fired, so the rates come from the numerics truth
(model.int8.onnx, run by onnxruntime): for the input of each spike-fed layer (the ones
export/passes/spike_fc.py makes event-driven, and those it leaves dense), the share of its
values that are not the silent level, over every step of every sequence. The same pass gives the int8 model's top-1
accuracy on those inputs. `profile` and bench/spiking.py report both.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _onnx_name(t: str) -> str:
    """The tensor onnxruntime names: a copy dup_tokenwise made ("#d1") or a row loop's gathered
    row ("#row") holds values of the tensor it comes from."""
    return t.split("#d")[0].split("#row")[0]


def spike_layers(reference: Path) -> list[dict]:
    """The spike-fed layers of an int8 model (export/passes/spike_fc.py's spike_fed_layers):
    name, input tensor, silent level, k, n, `loop` (the row loop it runs in, None at the top
    level) and `event_driven` (ef.SpikeFC, or a dense kernel: a layer with a fused bias Add)."""
    import onnx

    from edgeformer.export.load import load_onnx
    from edgeformer.export.passes import PIPELINE, run
    from edgeformer.export.passes.spike_fc import spike_fed_layers
    if not any(n.op_type == "Greater" for n in onnx.load(str(reference)).graph.node):
        return []   # no threshold, no spike: skip the passes
    g = run(load_onnx(reference), PIPELINE)   # the export's own passes: what the C runs
    return [{"layer": n.name, "input": _onnx_name(n.inputs[0]), "silent": lv[0], "k": int(n.attrs["k"]),
             "n": int(gr.tensors[n.inputs[1]].shape[0]), "loop": loop, "event_driven": n.op == "ef.SpikeFC"}
            for n, loop, gr, lv in spike_fed_layers(g)]


def spike_rates(art: Path, n_inputs: int = 20,
                layers: list[dict] | None = None) -> tuple[list[dict], float | None, str]:
    """spike_layers with `rate` (share of non-silent inputs), and the int8 model's top-1
    accuracy, from onnxruntime on n_inputs real test inputs; and where the inputs came from.
    `layers`: spike_layers of the artifact's reference, when the caller has them."""
    import onnx

    from edgeformer.export.onnx_check import session
    from edgeformer.runtime.verify import load_meta, sample_inputs
    meta = load_meta(art)
    ref = art / meta["reference"]
    layers = spike_layers(ref) if layers is None else [dict(x) for x in layers]
    model = onnx.load(str(ref))
    have = {o.name for o in model.graph.output}
    for t in dict.fromkeys(x["input"] for x in layers):
        if t not in have:
            model.graph.output.append(onnx.ValueInfoProto(name=t))
    sess = session(model.SerializeToString())
    names = [o.name for o in sess.get_outputs()]
    ins = sess.get_inputs()
    x, provenance = sample_inputs(meta, art, n_inputs)
    fired = {x_["input"]: 0 for x_ in layers}
    total = dict.fromkeys(fired, 0)
    silent = {x_["input"]: x_["silent"] for x_ in layers}

    def count(out: dict) -> None:
        for t in fired:
            fired[t] += int(np.count_nonzero(out[t] != silent[t]))
            total[t] += int(out[t].size)

    preds = []
    for sample in x:
        if meta.get("streaming"):
            state = [np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
                     for i in ins[1:]]
            for x_t in sample:
                res = dict(zip(names, sess.run(names, dict(zip([i.name for i in ins],
                                                                [x_t[None].astype(np.float32), *state])))))
                count(res)
                state = [res["state_out." + i.name[len("state_in."):]] for i in ins[1:]]
        else:
            res = dict(zip(names, sess.run(names, {ins[0].name: sample[None].astype(np.float32)})))
            count(res)
        preds.append(int(np.argmax(res[names[0]])))
    for x_ in layers:
        x_["rate"] = fired[x_["input"]] / max(total[x_["input"]], 1)
    acc = None
    if meta.get("dataset"):
        from edgeformer.data import load_dataset
        y = np.asarray(load_dataset(meta["dataset"]).y_test[:len(preds)])
        acc = float(np.mean(np.asarray(preds) == y))
    return layers, acc, provenance
