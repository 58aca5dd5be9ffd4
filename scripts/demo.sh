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
echo "artifact: $OUT/art (plan.json, plan.png, c/)"
