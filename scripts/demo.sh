#!/usr/bin/env bash
# The main job end to end (grows as the pipeline does): train -> export -> verify on the host.
set -euo pipefail
EF=.venv/bin/edgeformer
OUT=demo-out
mkdir -p "$OUT"
echo "== model zoo"
$EF zoo
echo "== train vit-digits on the real scikit-learn digits (short)"
$EF train --model vit-digits --dataset digits --epochs 30 --lr 3e-3 --out "$OUT/run" --force
$EF eval "$OUT/run"
echo "== export: ONNX -> int8 (onnxruntime QDQ, calibrated on digits) -> IR -> static plan -> C"
$EF export "$OUT/run" --quantize int8 --out "$OUT/art"
echo "== verify: the C code built with the host compiler vs onnxruntime on the int8 model"
$EF verify "$OUT/art" --target host --inputs 360

BOARD=stm32f746g-disco
echo "== build firmware for $BOARD (arm-none-eabi-gcc, the board's SRAM/flash in the linker script)"
$EF build "$OUT/art" --board $BOARD
echo "== run it on the emulated Cortex-M7 (QEMU mps2-an500) and compare with onnxruntime"
$EF run "$OUT/art" --board $BOARD --inputs 20
echo "== per-layer profile (instruction counts under QEMU -icount)"
$EF profile "$OUT/art" --board $BOARD
echo "artifact: $OUT/art (plan.json, plan.png, c/, build/, profile.json, profile.png)"
