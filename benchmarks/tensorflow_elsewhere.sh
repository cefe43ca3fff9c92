#!/usr/bin/env bash
# The modules' cost in TensorFlow on another machine's CPU, on 2 of its cores (as on the
# project's machine): the Keras models and their inference forms timed in one interleaved run
# (benchmarks/tf_inference_forms.py), then TensorFlow's per-op profile of each
# (benchmarks/tf_profile.py); batch 16, XLA off (BENCHMARKS.md, "TensorFlow on the Intel
# Xeon").
#
#   benchmarks/tensorflow_elsewhere.sh OUTPUT_FOLDER [PACK_FOLDER...]
#
# Where TensorFlow is not installed, the PACK_FOLDERs hold `benchmarks/carry_tensorflow.py
# pack`'s parts (carried over several calls where one call's transfer is too small); they are
# unpacked to /tmp/tfsite first, once per machine.
set -u
output=${1:?usage: benchmarks/tensorflow_elsewhere.sh OUTPUT_FOLDER [PACK_FOLDER...]}
shift
mkdir -p "$output"
if ! python3 -c "import tensorflow, keras" 2>/dev/null; then
    # Its own folder: deployed_elsewhere.sh installs other wheels to /tmp/site.
    if ! PYTHONPATH=/tmp/tfsite python3 -c "import tensorflow, keras" 2>/dev/null; then
        python3 benchmarks/carry_tensorflow.py unpack "$@" --target /tmp/tfsite || exit 1
    fi
    export PYTHONPATH=/tmp/tfsite
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" PYTHONUNBUFFERED=1 KERAS_BACKEND=tensorflow
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-1}  # keeps the profiler's lines out
grep -m1 "model name" /proc/cpuinfo
cpus=$(python3 benchmarks/two_cpus.py)  # two physical cores
echo "timing on CPUs $cpus"
python3 -c "import tensorflow as tf, keras; print('tensorflow', tf.__version__, 'keras', keras.__version__)"

timeout "${FORMS_SECONDS:-200}" taskset -c "$cpus" python3 benchmarks/tf_inference_forms.py \
    --models se_resnet50 srm_resnet50 ge_resnet50 --batch-size 16 --repeats 16 \
    --output "$output/tf_inference_forms_b16.json"
timeout "${PROFILE_SECONDS:-200}" taskset -c "$cpus" python3 benchmarks/tf_profile.py \
    --models resnet50 se_resnet50 srm_resnet50 ge_resnet50 se_resnet50:folded \
    srm_resnet50:folded ge_resnet50:folded --batch-size 16 --output "$output/tf_profile_b16.json"
