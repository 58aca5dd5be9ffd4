#!/usr/bin/env bash
# The main job end to end on the default simulated board (grows as the pipeline does).
set -euo pipefail
EF=.venv/bin/edgeformer
OUT=demo-out
mkdir -p "$OUT"
echo "== model zoo"
$EF zoo
echo "== train vit-digits on the real scikit-learn digits (short)"
$EF train --model vit-digits --dataset digits --epochs 30 --lr 3e-3 --out "$OUT/run" --force
$EF eval "$OUT/run"
