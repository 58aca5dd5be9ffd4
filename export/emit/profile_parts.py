"""The user's own parts of a fused row loop's body, for the profile: norms, attention (QKV,
scores, softmax, AV, projection) and MLP, each a run of consecutive body nodes.

Roles come from the ONNX node names first - the module path a PyTorch exporter writes
(`/blocks.0/attn/qkv/MatMul`, `/vit/encoder/layer.0/attention/attention/query/MatMul`,
`/model/vit/layers.0/mlp/fc1/MatMul`) - and from the op kind where a name says nothing
(`node_MatMul_12`): a LayerNorm is a norm, a Softmax the softmax, an activation x
activation MatMul the scores before the softmax and AV after it, a weight MatMul before the
scores QKV and after AV the projection. Reshapes, transposes, Q/DQ, residual adds and
anything else without a role join the part before them (the first ones the part after).

Profile slots: model.c numbers its ops 0..n-1 (EF_PROFILE_BEGIN(i)); the parts of every row
loop follow, numbered in op order, so a loop's slots depend only on the graph.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from edgeformer.export.ir import RESHAPE_LIKE, Graph, Node

NORM, QKV, SCORES, SOFTMAX, AV, PROJ, MLP, LINEAR = (
    "norm", "attn.qkv", "attn.scores", "attn.softmax", "attn.av", "attn.proj", "mlp", "linear")
ROLES = (NORM, QKV, SCORES, SOFTMAX, AV, PROJ, MLP, LINEAR)

# Module-path words (lower case) as PyTorch, timm, Hugging Face and torch.nn name them.
_QKV = {"qkv", "query", "key", "value", "q", "k", "v", "q_proj", "k_proj", "v_proj", "qkv_proj",
        "to_q", "to_k", "to_v", "to_qkv", "to_kv", "kv", "wq", "wk", "wv", "in_proj", "c_attn",
        "query_key_value"}
_PROJ = {"proj", "o_proj", "out_proj", "to_out", "wo", "c_proj", "dense", "output", "o"}
_MLP = {"mlp", "ffn", "ff", "feed_forward", "feedforward", "fc", "fc1", "fc2", "intermediate", "c_fc",
        "w1", "w2", "w3", "gate_proj", "up_proj", "down_proj", "linear1", "linear2", "act",
        "activation", "activation_fn", "dense_h_to_4h", "dense_4h_to_h"}
_ATTN = {"attn", "attention", "self_attn", "self_attention", "selfattention", "mha", "multihead_attn",
         "self", "attn_block", "msa", "mhsa"}
_NORM_RE = re.compile(r"(norm|^ln(_?\w{0,2})?\d*$|^bn\d*$)")

_NORM_OPS = {"LayerNormalization", "ef.QLayerNorm", "BatchNormalization"}
_SOFTMAX_OPS = {"Softmax", "LogSoftmax", "ef.QSoftmax"}
_MATMUL_OPS = {"MatMul", "Gemm", "ef.QMatMul", "ef.QGemm", "ef.QMatMulAA", "Conv", "ef.QConv",
               "ef.SpikeFC", "Einsum"}
# Ops that move or requantise bytes without computing: they join the part around them.
_PASSIVE = set(RESHAPE_LIKE) | {"Transpose", "Concat", "Slice", "Split", "Gather", "Expand", "Tile",
                                "QuantizeLinear", "DequantizeLinear", "Cast", "CastLike", "Pad"}


@dataclass(frozen=True)
class Part:
    """Body nodes first..last (inclusive) of one loop: `name` the user's module path
    (common to the nodes that gave the role), `role` one of ROLES."""

    name: str
    role: str
    first: int
    last: int


def module_path(node_name: str) -> tuple[str, ...]:
    """'/blocks.0/attn/qkv/MatMul#s0' -> ('blocks.0', 'attn', 'qkv'): the name's modules,
    without the op's own last component and our pass suffixes (#d0, #s1)."""
    parts = [p for p in node_name.split("#", 1)[0].strip("/").split("/") if p]
    return tuple(parts[:-1])


def _name_role(path: tuple[str, ...]) -> str | None:
    """The role a module path names, the innermost word that says one; 'attn' for a node of
    an attention module with no more specific word (its op decides)."""
    low = [p.lower() for p in path]
    in_mlp = any(p in _MLP and p not in _PROJ for p in low)
    for i in range(len(low) - 1, -1, -1):
        p = low[i]
        if _NORM_RE.search(p):
            return NORM
        if p in _QKV:
            return QKV
        if p in _MLP:
            return MLP
        if p in _PROJ:
            # attention's output projection; the same words under an MLP (mlp/c_proj) or a
            # layer's own `output/dense` (BERT's second MLP linear) are the MLP
            if in_mlp:
                return MLP
            if any(q in _ATTN for q in low[:i]):
                return PROJ
            continue
        if p in _ATTN:
            return "attn"
    return None


def _has_weight(node: Node, body: Graph) -> bool:
    return any(t and body.tensors[t].is_const and len(body.tensors[t].shape) >= 2 for t in node.inputs[1:2])


def classify(body: Graph) -> list[str | None]:
    """Each body node's role (None: it joins its neighbours), by name, then by op kind."""
    has_softmax = any(n.op in _SOFTMAX_OPS for n in body.nodes)
    roles: list[str | None] = []
    phase = "start"      # start -> scores -> softmax -> av -> proj (reset by a norm)
    for n in body.nodes:
        by_name = _name_role(module_path(n.name))
        role: str | None
        if n.op in _NORM_OPS:
            role = NORM
        elif n.op in _SOFTMAX_OPS:
            role = SOFTMAX
        elif n.op in _MATMUL_OPS and not _has_weight(n, body) and (has_softmax or by_name == "attn"):
            role = SCORES if phase in ("start", "scores") else AV
        elif n.op in _PASSIVE:
            role = None
        elif by_name in (NORM, QKV, PROJ, MLP):
            role = by_name
        elif n.op in _MATMUL_OPS:
            # a weight linear: where it sits around the attention core says what it is
            role = {"start": QKV if has_softmax else LINEAR, "scores": QKV, "softmax": PROJ,
                    "av": PROJ, "proj": MLP, "mlp": MLP}[phase]
        elif by_name == "attn":
            # elementwise inside attention: the scale before the scores, a mask after them
            role = {"start": SCORES, "scores": SCORES, "softmax": SOFTMAX}.get(phase, AV)
        else:
            role = None
        if role is not None:
            phase = _next_phase(phase, role)
        roles.append(role)
    return roles


def _next_phase(phase: str, role: str) -> str:
    if role == NORM:
        return "proj" if phase in ("av", "proj") else "start"   # ln2 before the MLP, or a new block
    return {SCORES: "scores", SOFTMAX: "softmax", AV: "av", PROJ: "proj",
            MLP: "mlp"}.get(role, phase)


def body_parts(body: Graph) -> list[Part]:
    """Runs of consecutive body nodes with one role and module, in body order; they cover
    every node (nodes without a role join the part before, or the first part)."""
    roles = classify(body)
    runs: list[list] = []            # [role, first, last, paths of the nodes that gave the role]
    for i, (n, role) in enumerate(zip(body.nodes, roles)):
        path = module_path(n.name)
        if role is None:
            if runs:
                runs[-1][2] = i
            continue
        if runs and runs[-1][0] == role and _same_module(runs[-1][3], path, role):
            runs[-1][2] = i
            runs[-1][3].append(path)
        else:
            runs.append([role, i, i, [path]])
    if not runs:
        return []
    runs[0][1] = 0                   # leading role-less nodes join the first part
    # \x1f separates the fields of a part's label in profile.bin (ops_rowloop.py)
    return [Part((_common("/".join(p) for p in r[3]) or body.nodes[r[1]].name).replace("\x1f", " "), r[0], r[1], r[2])
            for r in runs]


def _same_module(paths: list[tuple[str, ...]], path: tuple[str, ...], role: str) -> bool:
    """Two norms (ln1, ln2) are two parts; the nodes of one MLP or one attention stage are one."""
    if role != NORM:
        return True
    return paths[-1] == path


def _common(names) -> str:
    """Longest common module prefix of 'a/b/c' strings."""
    split = [n.split("/") for n in names]
    out = []
    for comps in zip(*split):
        if any(c != comps[0] for c in comps):
            break
        out.append(comps[0])
    return "/".join(out)


def loop_parts(node: Node) -> list[Part]:
    """The parts of an ef.RowLoop node worth timing: none when the body is one part."""
    parts = body_parts(node.attrs["body"])
    return parts if len(parts) > 1 else []


def loop_slots(graph: Graph, node: Node) -> tuple[int, int] | None:
    """(op index of `node`, profile slot of its first part): the slots follow the graph's ops
    and the parts of the row loops before it. None when `node` is not one of `graph`'s ops
    (a loop inside a loop)."""
    base = len(graph.nodes)
    for i, n in enumerate(graph.nodes):
        if n is node:
            return i, base
        if n.op == "ef.RowLoop":
            base += len(loop_parts(n))
    return None


def profile_slots(graph: Graph) -> int:
    """Slots of the profile table model.c needs (EF_PROF_MAX_OPS): one per op, then one per
    part of every row loop."""
    return len(graph.nodes) + sum(len(loop_parts(n)) for n in graph.nodes if n.op == "ef.RowLoop")
