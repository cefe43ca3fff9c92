#!/usr/bin/env bash
# The modules' cost on a GPU: ResNet-50 and its SE, SRM and GE-θ versions, inference and
# training steps, Keras on JAX, mixed_bfloat16, XLA, batch 128 (BENCHMARKS.md, "GPU").
#
#   benchmarks/gpu_jax.sh OUTPUT_FOLDER [MORE BENCH OPTIONS]   e.g. --min-repeat-seconds 0.5
#
# Needs Keras 3 and JAX with CUDA, no TensorFlow: `srm-keras bench` times Keras models on the
# configured backend. Where Keras is missing (a bare GPU image), put its wheels (keras, namex,
# optree) in .whl/ and they are installed to a temporary folder first. Inference and training
# are two runs, each interleaved over the four models, so that a cut-off second run still
# leaves the first one's files.
set -u
output=${1:?usage: benchmarks/gpu_jax.sh OUTPUT_FOLDER [MORE BENCH OPTIONS]}
shift
mkdir -p "$output"
if ! python3 -c "import keras" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
# The card's clocks now (the JSON records its name, memory and driver, not its clocks).
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"

models=(resnet50 se_resnet50 srm_resnet50 ge_resnet50)
common=(--models "${models[@]}" --batch-size 128 --image-size 224
        --precision mixed_bfloat16 --jit-compile on --repeats 20 --warmup 3 "$@")
# Each run's first step per model compiles it; the timeouts keep the second run's start in
# reach when compiles are slow.
timeout "${INFERENCE_SECONDS:-200}" python3 -m srm_keras bench "${common[@]}" --mode inference \
    --output "$output/gpu_inference_b128.json"
timeout "${TRAIN_SECONDS:-330}" python3 -m srm_keras bench "${common[@]}" --mode train \
    --output "$output/gpu_train_b128.json"
