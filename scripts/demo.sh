#!/usr/bin/env bash
# The main job end to end: search a model that fits a small SRAM budget on the default board,
# train the winner, export it, verify it on the host, build, run and profile it on the
# simulated board.
set -euo pipefail
EF=.venv/bin/edgeformer
OUT=demo-out
BOARD=stm32f746g-disco
SRAM=24KiB
mkdir -p "$OUT"
echo "== search: the most accurate ViT for digits within $SRAM of $BOARD's SRAM (short: a small"
echo "   supernet and 10 candidates; each candidate's SRAM/flash comes from the export planner)"
rm -rf "$OUT/search"
$EF search --family vit --dataset digits --board $BOARD --sram $SRAM --trials 10 --supernet-epochs 6 \
  --final-epochs 0 --tau-candidates 0 --out "$OUT/search"
echo "== train the winner (its spec is $OUT/search/best.json) on the real scikit-learn digits"
$EF train --spec "$OUT/search/best.json" --dataset digits --epochs 30 --lr 3e-3 --out "$OUT/run" --force
$EF eval "$OUT/run"
echo "== export: ONNX -> int8 (onnxruntime QDQ, calibrated on digits) -> IR -> static plan -> C"
$EF export "$OUT/run" --quantize int8 --out "$OUT/art"
echo "== verify: the C code built with the host compiler vs onnxruntime on the int8 model"
$EF verify "$OUT/art" --target host --inputs 360

echo "== build firmware for $BOARD (arm-none-eabi-gcc, the board's SRAM/flash in the linker script)"
$EF build "$OUT/art" --board $BOARD
echo "== run it on the emulated Cortex-M7 (QEMU mps2-an500) and compare with onnxruntime"
$EF run "$OUT/art" --board $BOARD --inputs 20
echo "== per-layer profile (instruction counts under QEMU -icount)"
$EF profile "$OUT/art" --board $BOARD
echo "artifact: $OUT/art (plan.json, plan.png, c/, build/, profile.json, profile.png)"
