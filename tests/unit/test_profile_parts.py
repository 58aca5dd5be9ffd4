"""export/emit/profile_parts.py: a row loop's body split into the user's parts (names first,
op kinds where names say nothing), and runtime/profile.py putting the part slots under their loop."""
import numpy as np

from edgeformer.export.emit.profile_parts import body_parts, loop_slots, module_path, profile_slots
from edgeformer.export.ir import Graph, Node, Tensor
from edgeformer.runtime.profile import OVERHEAD, group_layers, split_parts

# One transformer block's body as our row-loop pass leaves it: (op, name, has a weight)
OURS = [("ef.QLayerNorm", "/blocks.0/ln1/LayerNormalization#d0", False),
        ("ef.QMatMul", "/blocks.0/attn/qkv/MatMul#s0", True), ("Reshape", "/blocks.0/attn/Reshape", False),
        ("Transpose", "/blocks.0/attn/Transpose", False),
        ("ef.LUT", "/blocks.0/attn/Mul_output_0_QuantizeLinear", False),
        ("ef.QMatMulAA", "/blocks.0/attn/MatMul", False), ("ef.QSoftmax", "/blocks.0/attn/Softmax", False),
        ("ef.QMatMulAA", "/blocks.0/attn/MatMul_1", False), ("Transpose", "/blocks.0/attn/Transpose_3", False),
        ("ef.QMatMul", "/blocks.0/attn/proj/MatMul", True), ("ef.QAdd", "/blocks.0/Add", False),
        ("ef.QLayerNorm", "/blocks.0/ln2/LayerNormalization", False),
        ("ef.QMatMul", "/blocks.0/mlp/fc1/MatMul", True),
        ("ef.LUT", "/blocks.0/mlp/act/Mul_1_output_0_QuantizeLinear", False),
        ("ef.QMatMul", "/blocks.0/mlp/fc2/MatMul", True), ("ef.QAdd", "/blocks.0/Add_1", False)]
WANT = [("blocks.0/ln1", "norm", 0, 0), ("blocks.0/attn/qkv", "attn.qkv", 1, 3),
        ("blocks.0/attn", "attn.scores", 4, 5), ("blocks.0/attn", "attn.softmax", 6, 6),
        ("blocks.0/attn", "attn.av", 7, 8), ("blocks.0/attn/proj", "attn.proj", 9, 10),
        ("blocks.0/ln2", "norm", 11, 11), ("blocks.0/mlp", "mlp", 12, 15)]


def _body(spec) -> Graph:
    """A chain x -> node 0 -> ... with a [4, 4] weight on the nodes that have one."""
    tensors = {"x": Tensor("x", (1, 4), "int8")}
    nodes, prev = [], "x"
    for i, (op, name, weight) in enumerate(spec):
        ins = [prev]
        if weight:
            tensors[f"w{i}"] = Tensor(f"w{i}", (4, 4), "int8", data=np.zeros((4, 4), np.int8))
            ins.append(f"w{i}")
        elif op.endswith("MatMulAA"):
            ins.append("x")
        tensors[f"t{i}"] = Tensor(f"t{i}", (1, 4), "int8")
        nodes.append(Node(op, name, tuple(ins), (f"t{i}",)))
        prev = f"t{i}"
    return Graph(tuple(nodes), tensors, ("x",), (prev,))


def _parts(spec):
    return [(p.name, p.role, p.first, p.last) for p in body_parts(_body(spec))]


def test_our_block_splits_into_norms_attention_stages_and_mlp():
    assert _parts(OURS) == WANT
    assert module_path("/blocks.0/attn/qkv/MatMul#s0") == ("blocks.0", "attn", "qkv")


def test_hugging_face_names_old_and_new():
    renames = {"blocks.0/ln1": "vit/encoder/layer.0/layernorm_before",
               "blocks.0/attn/qkv": "vit/encoder/layer.0/attention/attention/query",
               "blocks.0/attn/proj": "vit/encoder/layer.0/attention/output/dense",
               "blocks.0/attn": "vit/encoder/layer.0/attention/attention",
               "blocks.0/ln2": "vit/encoder/layer.0/layernorm_after",
               "blocks.0/mlp/fc1": "vit/encoder/layer.0/intermediate/dense",
               "blocks.0/mlp/act": "vit/encoder/layer.0/intermediate/intermediate_act_fn",
               "blocks.0/mlp/fc2": "vit/encoder/layer.0/output/dense", "blocks.0": "vit/encoder/layer.0"}
    hf = []
    for op, name, w in OURS:
        path, leaf = name.strip("/").rsplit("/", 1)
        hf.append((op, f"/{renames[path]}/{leaf}", w))
    got = _parts(hf)
    assert [r for _, r, _, _ in got] == [r for _, r, _, _ in WANT]
    assert got[1][0] == "vit/encoder/layer.0/attention/attention/query"
    assert got[5][0] == "vit/encoder/layer.0/attention/output/dense"
    assert got[7][0] == "vit/encoder/layer.0"      # intermediate/dense and output/dense share only the layer
    # transformers' newer ViT: q_proj / o_proj / mlp.fc1
    new = [(op, n.replace("attn/qkv", "attention/q_proj").replace("attn/proj", "attention/o_proj")
            .replace("/attn/", "/attention/"), w) for op, n, w in OURS]
    assert [r for _, r, _, _ in _parts(new)] == [r for _, r, _, _ in WANT]


def test_names_that_say_nothing_fall_back_to_op_kinds():
    anon = [(op, f"node_{op.split('.')[-1]}_{i}", w) for i, (op, _, w) in enumerate(OURS)]
    roles = [r for _, r, _, _ in _parts(anon)]
    assert roles == ["norm", "attn.qkv", "attn.scores", "attn.softmax", "attn.av",
                     "attn.proj", "norm", "mlp"]


def test_a_body_of_one_kind_is_one_part_and_loops_number_their_slots_after_the_ops():
    assert len(body_parts(_body([("Reshape", "/Reshape", False), ("ef.QAdd", "/Add", False)]))) <= 1
    body = _body(OURS)
    t = body.tensors
    loops = [Node("ef.RowLoop", f"loop{i}", ("x",), (body.outputs[0],), {"body": body}) for i in range(2)]
    g = Graph((Node("Relu", "r", ("x",), ("x1",)), *loops), {**t, "x1": t["x"]}, ("x",), (body.outputs[0],))
    assert loop_slots(g, loops[0]) == (1, 3) and loop_slots(g, loops[1]) == (2, 3 + len(WANT))
    assert profile_slots(g) == 3 + 2 * len(WANT)
    assert loop_slots(g, Node("ef.RowLoop", "elsewhere", (), (), {"body": body})) is None


def test_profile_puts_part_slots_under_their_loop():
    slots = [("/patch/Conv", 100), ("/blocks.0/ln1/LayerNormalization#d0#rowloop", 1000),
             ("1\x1fblocks.0/ln1\x1fnorm", 300), ("1\x1fblocks.0/mlp\x1fmlp", 690)]
    ops, parts = split_parts(slots)
    assert ops == slots[:2] and parts == {1: [("blocks.0/ln1", "norm", 300), ("blocks.0/mlp", "mlp", 690)]}
    layers = [{"name": "/patch/Conv", "instructions": 100},
              {"name": slots[1][0], "instructions": 1000,
               "parts": [{"name": "blocks.0/ln1", "role": "norm", "instructions": 300},
                         {"name": "blocks.0/mlp", "role": "mlp", "instructions": 690},
                         {"name": OVERHEAD, "role": OVERHEAD, "instructions": 10}]}]
    groups = group_layers(layers, "instructions")
    assert [g["name"] for g in groups] == ["patch", "blocks.0"]    # the loop's module, not its first node's
    assert sum(p["instructions"] for p in groups[1]["parts"]) == groups[1]["instructions"] == 1000
