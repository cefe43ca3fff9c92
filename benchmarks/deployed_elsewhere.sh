#!/usr/bin/env bash
# The exported ResNet-50s in ONNX Runtime and LiteRT on another machine's CPU, on 2 of its cores
# (as on the project's machine), batch 1 and 16 (BENCHMARKS.md, "Deployed models").
#
#   benchmarks/deployed_elsewhere.sh BLANKED_FOLDER OUTPUT_FOLDER [MORE BENCH OPTIONS]
#   MODE=profile benchmarks/deployed_elsewhere.sh BLANKED_FOLDER OUTPUT_FOLDER
#
# MODE=profile runs each runtime's per-operator profile instead (benchmarks/onnx_profile.py,
# benchmarks/tflite_profile.py; batch 16, the same two CPUs and threads), on the plain, SE, SRM
# and GE-θ files.
#
# BLANKED_FOLDER holds `benchmarks/blank_weights.py blank`'s output for the files to time (the
# exports without their weights' values, small enough to carry); they are filled again first.
# Where ONNX Runtime, LiteRT or Keras is missing, their wheels in .whl/ are installed to a
# temporary folder. ONNX Runtime and LiteRT are two runs, so that a cut-off second run still
# leaves the first one's files.
set -u
blanked=${1:?usage: benchmarks/deployed_elsewhere.sh BLANKED_FOLDER OUTPUT_FOLDER [OPTIONS]}
output=${2:?usage: benchmarks/deployed_elsewhere.sh BLANKED_FOLDER OUTPUT_FOLDER [OPTIONS]}
shift 2
mkdir -p "$output"
if ! python3 -c "import keras, onnxruntime, ai_edge_litert" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" PYTHONUNBUFFERED=1
export KERAS_BACKEND=${KERAS_BACKEND:-jax} JAX_PLATFORMS=${JAX_PLATFORMS:-cpu}  # any backend will do
filled=$(mktemp -d)  # about 1.1 GB of filled files: removed however the script ends
trap 'rm -rf "$filled"' EXIT
python3 benchmarks/blank_weights.py fill "$blanked" --output "$filled" || exit 1
grep -m1 "model name" /proc/cpuinfo
cpus=$(python3 benchmarks/two_cpus.py)  # two physical cores
echo "timing on CPUs $cpus"
python3 -c "import onnxruntime, ai_edge_litert; print('onnxruntime', onnxruntime.__version__)"

if [ "${MODE:-bench}" = profile ]; then
    onnx=() tflite=()
    for model in resnet50 se_resnet50 srm_resnet50 ge_resnet50; do
        onnx+=("$filled/$model.onnx") tflite+=("$filled/$model.tflite")
    done
    timeout "${RUN_SECONDS:-150}" taskset -c "$cpus" python3 benchmarks/onnx_profile.py \
        "${onnx[@]}" --threads 2 --runs 5 --output "$output/onnx_profile.json"
    timeout "${RUN_SECONDS:-400}" taskset -c "$cpus" python3 benchmarks/tflite_profile.py \
        "${tflite[@]}" --threads 2 --output "$output/tflite_profile.json"
    exit
fi

models=(resnet50 se_resnet50 srm_resnet50 ge_resnet50 mssar_resnet50)
common=(--batch-size 1 16 --repeats 6 --min-repeat-seconds 1 --onnx-threads 2
        --tflite-threads 2 "$@")
for runtime in onnx tflite; do
    files=()
    for model in "${models[@]}"; do
        if [ -e "$filled/$model.$runtime" ]; then files+=("$filled/$model.$runtime"); fi
    done
    timeout "${RUN_SECONDS:-150}" taskset -c "$cpus" python3 -m srm_keras bench \
        --models "${files[@]}" "${common[@]}" --output "$output/${runtime}_resnet50.json"
done
