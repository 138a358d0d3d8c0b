#!/usr/bin/env bash
# The main job end to end on this machine: quick training -> convert (4 variants + cards) -> quantization report
# -> benchmark float vs int8 -> render photo-like camera frames from the test set -> classify them on the edge path.
# Usage: scripts/demo.sh [RUN_DIR]   (default runs/demo; everything it writes goes there)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/demo}
BIN=.venv/bin
export TF_CPP_MIN_LOG_LEVEL=2  # keep TensorFlow's start-up chatter out of the way
step() { printf '\n== %s\n' "$*"; }

step "1/6 train (quick profile) -> $RUN/train"
$BIN/fashion-edge train --profile quick --out "$RUN/train"
step "2/6 convert to float32, float16, dynamic-range and full-int8 TFLite -> $RUN/models"
$BIN/fashion-edge convert "$RUN/train/model.keras" --out "$RUN/models"
step "3/6 quantization accuracy report -> $RUN/report"
$BIN/fashion-edge report "$RUN/models" --keras "$RUN/train/model.keras" --out "$RUN/report"
step "4/6 benchmark every variant (accuracy, latency, size, memory) -> $RUN/bench"
$BIN/fashion-edge bench "$RUN/models" --keras-model "$RUN/train/model.keras" --threads 1,2 --runs 200 --out "$RUN/bench"
step "5/6 photo-like 640x480 frames rendered from the test set, and accuracy on them -> $RUN/frames"
$BIN/python -m fashion_edge.benchmarks.photo_accuracy --model "$RUN/models/fashion_int8.tflite" --per-class 20 \
  --save-examples "$RUN/frames" --json "$RUN/photo_accuracy.json"
step "6/6 edge-classify the frames with the int8 model (no TensorFlow on this path)"
$BIN/edge-classify --model "$RUN/models/fashion_int8.tflite" --top-k 2 "$RUN"/frames/*.jpg

cat <<MSG

Done. Read:
  $RUN/train/training.json        accuracy, wall time, seed, data hashes
  $RUN/models/fashion_*.json      model cards (sha256, input spec, quantization, test accuracy, agreement)
  $RUN/report/report.html         quantization accuracy report (per class, confusion, flips, per-layer error)
  $RUN/bench/bench.html           float vs int8: latency, accuracy, size, memory
  $RUN/photo_accuracy.json        accuracy on the rendered camera-style frames
MSG
