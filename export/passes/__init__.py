"""Graph -> Graph passes, each pure and tested alone; PIPELINE runs them in this order.

LOWERING passes change representation only (the memory baseline is measured after them:
`unfused_liveness_bound_bytes`). MEMORY: pure rewrites (split_matmul, fuse_bias_add), then
save_memory, the one step that asks the planner which memory-saving rewrites
(dup_tokenwise, row_loops and their merges) to keep. SPIKING: LIF neurons fused, spike-fed
fully connected layers made event-driven (a no-op on a model without spikes). LOWERED =
MEMORY + SPIKING is what runs on the lowered graph: export.plan_only.lower_and_plan (the
export and the search's memory model), the latency model's calibration and spike_rates.
"""
from __future__ import annotations

from typing import Callable

from edgeformer.export.ir import Graph
from edgeformer.export.passes.aa_trans_b import aa_trans_b
from edgeformer.export.passes.fold_qdq import fold_qdq
from edgeformer.export.passes.fuse_bias_add import fuse_bias_add
from edgeformer.export.passes.int8_binary import int8_binary
from edgeformer.export.passes.int8_lut import int8_lut
from edgeformer.export.passes.int8_matmul_aa import int8_matmul_aa
from edgeformer.export.passes.int8_moves import int8_moves
from edgeformer.export.passes.int8_rowwise import int8_rowwise
from edgeformer.export.passes.io_dtype import io_dtype
from edgeformer.export.passes.lif_fuse import lif_fuse
from edgeformer.export.passes.save_memory import save_memory
from edgeformer.export.passes.spike_fc import spike_fc
from edgeformer.export.passes.split_matmul import split_matmul

Pass = Callable[[Graph], Graph]

# The int8 passes each turn DQ -> float op(s) -> Q into one int8 node in the Q's place and
# absorb disjoint Q nodes, so they commute; int8_lut runs before int8_binary so a Mul by a
# scalar becomes a (bit-exact, cheaper) table rather than per-element float math.
LOWERING: tuple[Pass, ...] = (io_dtype, fold_qdq, int8_moves, int8_lut, int8_binary, int8_rowwise,
                              int8_matmul_aa, aa_trans_b)
# fuse_bias_add runs after split_matmul, which cuts the bias constant (still a QAdd operand
# then) with the matmul's columns; it would not cut a fused node's fourth input.
MEMORY: tuple[Pass, ...] = (split_matmul, fuse_bias_add, save_memory)
# Spiking passes last: decided from graph structure (never from calibrated ranges), so the
# search's memory model and the export agree; after the row loops, so nodes a row loop took
# keep their per-token fusion (the plan never grows for them).
SPIKING: tuple[Pass, ...] = (lif_fuse, spike_fc)
LOWERED: tuple[Pass, ...] = MEMORY + SPIKING
PIPELINE: tuple[Pass, ...] = LOWERING + LOWERED


def run(graph: Graph, passes: tuple[Pass, ...]) -> Graph:
    for p in passes:
        graph = p(graph)
    return graph
