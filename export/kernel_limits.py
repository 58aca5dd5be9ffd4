"""What the C kernels (export/kernels/) can take and need: the one Python copy of their limits.

Passes, emitters and the search's latency model read these; none keeps a number of its own.
tests/unit/test_kernel_limits.py reads the kernels' headers and sources and fails when a
value here and the C disagree.
"""
from __future__ import annotations

MAX_DIMS = 8           # EF_MAX_DIMS (ef_kernels.h): dims of every shape/stride table in a params struct

# EF_QFC_KMAX (ef_kernels.h): the longest reduction of the packed int8 fc / conv (ef_qfc.c) and
# of the fast act x act matmul (ef_qaa.c): their widened input row lives on the stack. Longer
# ones take the row-major reference kernels (ef_qmatmul_s8, ef_qconv2d_s8, ef_qmatmul_aa_s8_ref).
QFC_KMAX = 256

# EF_SPIKE_KMAX (ef_spike.h): ef_spike_fc_s8's longest input row (int16 lanes hold any sum of
# 256 int8 weights; its two flag arrays live on the stack).
SPIKE_KMAX = 256

# ef_qaa.c (ef_aa_t_fn): the reduction lengths with an unrolled row loop; other lengths of at
# least AA_PAIR_MIN_K take the two-output loop ef_aa_pair, shorter ones the plain C loop.
AA_FAST_K = (8, 16, 32, 64, 128)
AA_PAIR_MIN_K = 8

# Bytes of the local arrays sized by the limits above that each kernel keeps on the C stack
# (on its largest path, static helpers included; small fixed arrays such as 4 accumulators
# are not counted): what a longer reduction would cost the stack.
KERNEL_STACK_BYTES = {
    "ef_qfc_s8": 4 * (QFC_KMAX // 2),                      # int32_t xb[EF_QFC_KMAX / 2]
    "ef_qfc_epi_s8": 4 * (QFC_KMAX // 2),
    "ef_qfc_add_s8": 4 * (QFC_KMAX // 2),
    "ef_qconv2d_fc_s8": 4 * (QFC_KMAX // 2) + QFC_KMAX,    # + int8_t col[EF_QFC_KMAX]
    "ef_qfc_v6m_s8": QFC_KMAX,                             # uint8_t xu[EF_QFC_KMAX]
    "ef_qconv2d_rows_s8": QFC_KMAX,                        # int8_t col[EF_QFC_KMAX]
    "ef_qmatmul_aa_s8": 4 * (4 + QFC_KMAX // 2),           # ef_aa_trans: int32_t buf[4 + EF_QFC_KMAX / 2]
    "ef_spike_fc_s8": 2 * SPIKE_KMAX,                      # uint8_t fired[], other[EF_SPIKE_KMAX]
}


def kernel_stack_bytes(kernel: str) -> int:
    """Fixed stack arrays of `kernel` (0 for a kernel without any)."""
    return KERNEL_STACK_BYTES.get(kernel, 0)


# Arena scratch of the int8 row-wise kernels (ef_kernels.h: "scratch: ... floats"), planned
# per node from node.attrs["scratch_bytes"] (export/passes/int8_rowwise.py).
FLOAT_BYTES = 4


def qsoftmax_scratch_bytes(row: int) -> int:
    """ef_qsoftmax_s8: one row of floats (the exponentials, looked up once)."""
    return FLOAT_BYTES * row


def qlayernorm_scratch_bytes(size: int, pool_rows: int) -> int:
    """ef_qlayernorm_s8: one row of floats, and a running row sum beside it when pooling."""
    return FLOAT_BYTES * size * (2 if pool_rows else 1)
