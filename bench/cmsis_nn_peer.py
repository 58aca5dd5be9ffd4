"""Our int8 kernels beside CMSIS-NN's on the new cores, same layers, one run, same harness.

The layers are vit-tiny-ref's (64 tokens of 64 channels, 4 heads of 16, MLP 128): its fully
connected layers, attention's two act x act products and its softmax, each called once over
the whole layer on both sides. Each side's kernels are what it runs on that core:
- mps3-an547 (Cortex-M55, Helium): ours ef_qfc_rows_s8 on int8 weight rows (what export emits
  for an MVE core), ef_qmatmul_aa_s8, ef_qsoftmax_s8; CMSIS-NN's MVE paths of
  arm_fully_connected_s8 (kernel sums made beforehand, as TFLM's Prepare does),
  arm_batch_matmul_s8 and arm_softmax_s8.
- rpi-pico on the micro:bit stand-in (QEMU's Cortex-M0; the RP2040 board's memory holds the
  layers, the micro:bit's 16 KiB do not): ours ef_qfc_v6m_s8 (what export emits for an
  Armv6-M core) and the same others; CMSIS-NN's pure C paths.
Both sides are compiled with the board's own flags (targets/cores.py) into one image and run
under QEMU with -icount, SysTick read around each call (bench/latency.py's clock: one tick is
1e9 / cpu_hz instructions). CMSIS-NN is built from a copy fetched at run time (Include/ and
the three Source/ folders; it needs no CMSIS-Core header): pass its checkout, or its git
directory (read with `git archive`). Its numerics are TFLite's (round half away from zero,
fixed-point softmax), ours are onnxruntime's; the outputs are compared as a check that both
computed the same layer (max difference in int8 steps), not for equality.

Instruction counts are not cycles: the M55 executes Helium instructions in beats (two or four
per 128-bit vector; a gather loads one element per beat), so a vector instruction costs more
cycles than a scalar one.
Usage: .venv/bin/python bench/cmsis_nn_peer.py --cmsis-nn DIR [--boards mps3-an547,rpi-pico] [--json]
"""
from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/kernel_harness: the kernel tests' semihosted I/O

from edgeformer.errors import UserError  # noqa: E402
from edgeformer.export.emit.ops_qint8 import softmax_exp_table  # noqa: E402
from edgeformer.export.emit.ops_qlinear import pack_fc, pack_rows, pack_v6m  # noqa: E402
from edgeformer.export.emit.qepilogue import acc_bounds, pack_epilogue, requant_consts  # noqa: E402
from edgeformer.export.passes.fold_qdq import quantize_multiplier  # noqa: E402
from edgeformer.runtime.boards import load_board  # noqa: E402
from edgeformer.runtime.cross import linker_script  # noqa: E402
from edgeformer.runtime.qemu import run_qemu  # noqa: E402
from tests.kernel_harness import FIRMWARE, KERNELS, TARGET_IO, kernel_sources  # noqa: E402

SEED = 17
CMSIS_SOURCES = ("Source/FullyConnectedFunctions/arm_fully_connected_s8.c",
                 "Source/FullyConnectedFunctions/arm_fully_connected_get_buffer_sizes_s8.c",
                 "Source/FullyConnectedFunctions/arm_batch_matmul_s8.c",
                 "Source/FullyConnectedFunctions/arm_vector_sum_s8.c",
                 "Source/NNSupportFunctions/arm_nn_vec_mat_mult_t_s8.c",
                 "Source/SoftmaxFunctions/arm_softmax_s8.c",
                 "Source/SoftmaxFunctions/arm_nn_softmax_common_s8.c")

DRIVER = r"""
#include <string.h>
#include "ef_kernels.h"
#include "ef_qfc_rows.h"
#include "ef_qfc_v6m.h"
#include "arm_nnfunctions.h"
int io_read(void *buf, uint32_t n);
int io_write(const void *buf, uint32_t n);
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
static uint8_t mem[120 * 1024] __attribute__((aligned(16)));
enum { FC_ROWS = 1, FC_V6M, AA, SOFTMAX };
static uint32_t t0;
static void tic(void) { t0 = SYST_CVR; }
static uint32_t toc(void) { return (t0 - SYST_CVR) & 0xFFFFFFu; }
int kt_run(void)
{
    SYST_RVR = 0xFFFFFFu; SYST_CVR = 0; SYST_CSR = 5u;
    for (;;) {
        uint32_t h[3], i, len, used = 0, ticks[2];  /* kind, buffers, out bytes */
        uint8_t *b[12], *ours, *peer;
        if (io_read(h, sizeof h) || h[0] == 0) return 0;
        for (i = 0; i < h[1]; ++i) {
            if (io_read(&len, 4)) return 2;
            b[i] = mem + used;
            if (len && io_read(mem + used, len)) return 2;
            used += (len + 15u) & ~15u;
        }
        ours = mem + used; used += (h[2] + 15u) & ~15u;
        peer = mem + used; used += (h[2] + 15u) & ~15u;
        if (used > sizeof mem) return 3;
        switch (h[0]) {
        case FC_ROWS: case FC_V6M: { /* b: ours' params, stream, x, CMSIS-NN's ints, w, bias */
            const int32_t *c = (const int32_t *)b[3]; /* m, k, n, input_offset, output_offset, mult, shift */
            const cmsis_nn_fc_params fp = {c[3], 0, c[4], {-128, 127}};
            const cmsis_nn_per_tensor_quant_params qp = {c[5], c[6]};
            const cmsis_nn_dims in = {c[0], 1, 1, c[1]}, fd = {c[1], 1, 1, c[2]}, bd = {1, 1, 1, c[2]},
                                od = {c[0], 1, 1, c[2]};
            cmsis_nn_context ctx = {NULL, arm_fully_connected_s8_get_buffer_size(&fd)};
            if (ctx.size > 0) { /* TFLM's Prepare: kernel sums once, outside the timed call */
                ctx.buf = mem + used; used += (ctx.size + 15u) & ~15u;
                arm_vector_sum_s8(ctx.buf, c[1], c[2], (const int8_t *)b[4], c[3], 0, (const int32_t *)b[5]);
            }
            tic();
            if (h[0] == FC_ROWS) ef_qfc_rows_s8((void *)b[0], (void *)b[2], (void *)b[1], (void *)ours);
            else ef_qfc_v6m_s8((void *)b[0], (void *)b[2], (void *)b[1], (void *)ours);
            ticks[0] = toc();
            tic();
            arm_fully_connected_s8(&ctx, &fp, &qp, &in, (void *)b[2], &fd, (void *)b[4], &bd, (void *)b[5], &od,
                                   (void *)peer);
            ticks[1] = toc();
            break;
        }
        case AA: { /* b: ours' params, a, bT, CMSIS-NN's ints: heads, m, k, n, lhs off, rhs off, out off, mult, shift */
            const int32_t *c = (const int32_t *)b[3];
            const cmsis_nn_bmm_params bp = {0, 0, {c[4], c[5], c[6], {-128, 127}}};
            const cmsis_nn_per_tensor_quant_params qp = {c[7], c[8]};
            const cmsis_nn_dims lhs = {1, c[0], c[1], c[2]}, rhs = {1, c[0], c[3], c[2]}, od = {1, c[0], c[1], c[3]};
            cmsis_nn_context ctx = {mem + used, 4 * c[3]};
            used += (4u * c[3] + 15u) & ~15u;
            tic();
            ef_qmatmul_aa_s8((void *)b[0], (void *)b[1], (void *)b[2], (void *)ours);
            ticks[0] = toc();
            tic();
            arm_batch_matmul_s8(&ctx, &bp, &qp, &lhs, (void *)b[1], &rhs, (void *)b[2], &od, (void *)peer);
            ticks[1] = toc();
            break;
        }
        case SOFTMAX: { /* b: ours' params, x, exp table, CMSIS-NN's ints: rows, row, mult, shift, diff_min */
            const int32_t *c = (const int32_t *)b[3];
            float *scratch = (float *)(mem + used);
            used += 4u * c[1];
            tic();
            ef_qsoftmax_s8((void *)b[0], (void *)b[1], (void *)b[2], (void *)ours, scratch);
            ticks[0] = toc();
            tic();
            arm_softmax_s8((void *)b[1], c[0], c[1], c[2], c[3], c[4], (void *)peer);
            ticks[1] = toc();
            break;
        }
        default:
            return 4;
        }
        if (used > sizeof mem) return 3;
        if (io_write(ticks, sizeof ticks) || io_write(ours, h[2]) || io_write(peer, h[2])) return 2;
    }
}
"""


def _i32(*v) -> bytes:
    return struct.pack(f"<{len(v)}i", *[int(x) for x in v])


def _f32(*v) -> bytes:
    return struct.pack(f"<{len(v)}f", *[float(x) for x in v])


def _tab(v, n=8) -> list[int]:
    return list(v) + [0] * (n - len(v))


@dataclass
class Layer:
    name: str
    macs: int
    kind: int
    bufs: list[bytes]
    out: int


def fc_layer(rng, name: str, m: int, k: int, n: int, rows: bool) -> Layer:
    """A layer of m tokens, k -> n, with scales that keep the outputs inside int8 and prove the
    integer epilogue (as a trained model's do)."""
    x = rng.integers(-128, 128, (m, k), dtype=np.int8)
    w = rng.integers(-127, 128, (n, k), dtype=np.int8)
    b = rng.integers(-20000, 20000, n).astype(np.int32)
    mult, shift = quantize_multiplier(float(rng.uniform(5, 15)) * 3 / (np.sqrt(k) * 128 * 128))
    x_zp, y_zp = int(rng.integers(-20, 20)), int(rng.integers(-10, 10))
    words, chan = pack_fc(w, b, x_zp, np.full(n, mult), np.full(n, shift))
    stream = pack_epilogue(words, chan, n, y_zp, acc_bounds(w, b, x_zp))
    if stream is None:
        raise SystemExit(f"{name}: the generated scale is not provable; change SEED")
    grid, pack = (16, pack_rows) if rows else (8, pack_v6m)
    kp = -(-k // grid) * grid
    ws = pack(w, stream)
    ours = _i32(m, k, n, kp, y_zp, -128, 127)
    peer = _i32(m, k, n, -x_zp, y_zp, mult, shift)
    return Layer(name, m * k * n, 1 if rows else 2, [ours, ws.tobytes(), x.tobytes(), peer, w.tobytes(), b.tobytes()],
                 m * n)


def aa_layer(rng, name: str, heads: int, m: int, k: int, n: int, a_zp: int, b_zp: int) -> Layer:
    """heads x (m x k) @ (n x k)ᵀ with the proved requantisation (what export emits)."""
    a = rng.integers(-128, 128, (heads, m, k), dtype=np.int8)
    bt = rng.integers(-128, 128, (heads, n, k), dtype=np.int8)
    mult, shift = quantize_multiplier(float(rng.uniform(5, 15)) * 3 / (np.sqrt(k) * 128 * 128))
    y_zp = int(rng.integers(-10, 10))
    h, _ = requant_consts(mult, shift, y_zp, k * 255 * 255)
    ours = (_i32(m, k, n, 1) + _i32(*_tab([heads])) + _i32(*_tab([m * k])) + _i32(*_tab([n * k]))
            + _i32(a_zp, b_zp, y_zp, mult, shift, 1, h))
    peer = _i32(heads, m, k, n, -a_zp, -b_zp, y_zp, mult, shift)
    return Layer(name, heads * m * k * n, 3, [ours, a.tobytes(), bt.tobytes(), peer], heads * m * n)


def softmax_layer(rng, name: str, rows: int, row: int, x_scale: float) -> Layer:
    """Softmax rows to uint8-like int8 (scale 1/256 TFLM, 1/255 ours, zero point -128)."""
    x = rng.integers(-128, 128, (rows, row), dtype=np.int8)
    ours = _i32(rows, row) + _f32(x_scale, 1.0, 1 / 255) + _i32(0, -128)
    # TFLM's softmax preparation: beta * scale in Q(31 - 5), its radius as diff_min
    real = min(x_scale * (1 << 26), (1 << 31) - 1.0)
    mult, shift = quantize_multiplier(real)   # real = mult * 2^(shift - 31): TFLM's left shift
    diff_min = -int((((1 << 5) - 1) * (1 << (31 - 5))) / (1 << shift))
    peer = _i32(rows, row, mult, shift, diff_min)
    table = softmax_exp_table(x_scale, 1.0)
    return Layer(name, rows * row, 4, [ours, x.tobytes(), table.tobytes(), peer], rows * row)


def layers(rows: bool) -> list[Layer]:
    rng = np.random.default_rng(SEED)
    return [fc_layer(rng, "fc 64x64->64 (qkv, proj)", 64, 64, 64, rows),
            fc_layer(rng, "fc 64x64->128 (mlp 1)", 64, 64, 128, rows),
            fc_layer(rng, "fc 64x128->64 (mlp 2)", 64, 128, 64, rows),
            aa_layer(rng, "q kT 4x64x16 @ 64", 4, 64, 16, 64, 0, 2),
            aa_layer(rng, "p v 4x64x64 @ 16", 4, 64, 64, 16, -128, 0),
            softmax_layer(rng, "softmax 256 rows of 64", 256, 64, 0.0148)]


def cmsis_tree(src: Path, work: Path) -> Path:
    """A CMSIS-NN tree with Include/ and the sources: src itself (a checkout), or exported
    from src as a git directory (the fetched mirror)."""
    if (src / "Include" / "arm_nnfunctions.h").exists():
        return src
    out = work / "cmsis-nn"
    out.mkdir()
    try:
        arc = subprocess.run(["git", "--git-dir", str(src), "archive", "HEAD", "Include", "Source"],
                             capture_output=True, check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        raise UserError(f"--cmsis-nn {src}: neither a CMSIS-NN checkout nor its git directory ({e})") from None
    subprocess.run(["tar", "-x", "-C", str(out)], input=arc, check=True)
    return out


def build(board_name: str, cmsis: Path, work: Path) -> tuple[object, Path]:
    board = load_board(board_name)
    tgt = board.target
    d = work / board_name
    d.mkdir()
    (d / "driver.c").write_text(DRIVER)
    (d / "io.c").write_text(TARGET_IO)
    (d / "link.ld").write_text(linker_script(board, "sim"))
    startup = resources.files("edgeformer.boards").joinpath("startup_cortex_m.c")
    elf = d / "bench.elf"
    cmd = [tgt.cc, *tgt.cflags, f"-I{KERNELS}", f"-I{FIRMWARE}", f"-I{cmsis / 'Include'}", str(startup),
           str(FIRMWARE / "semihost.c"), str(d / "driver.c"), str(d / "io.c"), *kernel_sources(),
           *[str(cmsis / s) for s in CMSIS_SOURCES], *tgt.ldflags, f"-T{d / 'link.ld'}", "-lm", "-o", str(elf)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"build for {board_name} failed:\n{r.stderr[-3000:]}")
    return board, elf


def measure(board_name: str, cmsis: Path, work: Path) -> list[dict]:
    board, elf = build(board_name, cmsis, work)
    rows = "mve" in board.target.features
    ls = layers(rows)
    stream = bytearray()
    for la in ls:
        stream += struct.pack("<3I", la.kind, len(la.bufs), la.out)
        for b in la.bufs:
            stream += struct.pack("<I", len(b)) + b
    stream += struct.pack("<3I", 0, 0, 0)
    out = run_qemu(elf, board.simulator, bytes(stream), timeout=600).out
    per_tick = 1e9 / board.target.qemu_cpu_hz
    res, pos = [], 0
    for la in ls:
        t_ours, t_peer = struct.unpack_from("<2I", out, pos)
        ours = np.frombuffer(out, np.int8, la.out, pos + 8).astype(int)
        peer = np.frombuffer(out, np.int8, la.out, pos + 8 + la.out).astype(int)
        pos += 8 + 2 * la.out
        res.append(dict(board=board_name, core=board.core, layer=la.name, macs=la.macs,
                        ours=round(t_ours * per_tick), cmsis_nn=round(t_peer * per_tick),
                        max_diff_steps=int(np.abs(ours - peer).max())))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cmsis-nn", required=True, type=Path,
                    help="a CMSIS-NN checkout or git directory (e.g. github:ARM-software/CMSIS-NN fetched)")
    ap.add_argument("--boards", default="mps3-an547,rpi-pico")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not shutil.which("arm-none-eabi-gcc") or not shutil.which("qemu-system-arm"):
        raise SystemExit("needs arm-none-eabi-gcc and qemu-system-arm")
    with tempfile.TemporaryDirectory(prefix="ef-cmsis-nn-") as tmp:
        work = Path(tmp)
        cmsis = cmsis_tree(a.cmsis_nn.resolve(), work)
        res = [r for b in a.boards.split(",") for r in measure(b, cmsis, work)]
    if a.json:
        print(json.dumps(res, indent=1))
        return
    print(f"{'board (core)':28} {'layer':28} {'MACs':>9} {'ours':>10} {'CMSIS-NN':>10} {'ratio':>7} "
          f"{'ours/MAC':>8} {'peer/MAC':>8} {'max diff':>8}")
    for r in res:
        print(f"{r['board'] + ' (' + r['core'] + ')':28} {r['layer']:28} {r['macs']:>9,} {r['ours']:>10,} "
              f"{r['cmsis_nn']:>10,} {r['cmsis_nn'] / r['ours']:>6.2f}x {r['ours'] / r['macs']:>8.3f} "
              f"{r['cmsis_nn'] / r['macs']:>8.3f} {r['max_diff_steps']:>8}")
    print("ratio: CMSIS-NN's instructions / ours (above 1: ours fewer). Softmax 'MACs' = elements. "
          "Instruction counts, not cycles.")


if __name__ == "__main__":
    main()
