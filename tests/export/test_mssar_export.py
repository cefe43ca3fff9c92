"""An MS-SAR ResNet-20 through SavedModel, TFLite float32 and ONNX, with parity."""

from __future__ import annotations

import keras
import numpy as np
import onnx

from srm_keras.export import export
from srm_keras.export.tflite import operators
from srm_keras.layers import MultiScaleSpatialRecalibration
from srm_keras.preprocessing import preprocess_input
from tests.export.conftest import perturbed_resnet20, randomise_module_kernels
from tests.export.graphs import check_resnet20_graphs

FORMATS = ["savedmodel", "tflite_float32", "onnx"]


def _perturbed_mssar_resnet20(seed):
    """perturbed_resnet20 randomises the modules' batch normalisations; the modules' kernels
    and gate bias are randomised here too, since a zero expansion kernel gives gates of 0.5
    everywhere and would leave the spatial paths untested."""
    keras.utils.set_random_seed(seed)  # the convolutions' initial kernels too
    model = perturbed_resnet20("mssar", seed=seed)
    suffixes = ("_kernel", "excite_bias")
    return model, randomise_module_kernels(model, MultiScaleSpatialRecalibration, seed, suffixes)


def test_mssar_resnet20_exports_with_parity(tmp_path, digits, digits_arrays):
    train, validation = digits
    model, modules = _perturbed_mssar_resnet20(seed=4)
    assert len(modules) == 9

    # The gates must vary over space for parity to cover the spatial paths: on the 8x8 and 4x4
    # maps of stages 1 and 2 (on stage 3's 2x2 maps scales 2 and 4 are one cell each).
    images = preprocess_input(digits_arrays[2][:8])
    probe = keras.Model(model.inputs, [t for m in modules[:6] for t in (m.input, m.output)])
    tensors = probe.predict(images, verbose=0)
    spreads = []
    for module_input, module_output in zip(tensors[::2], tensors[1::2]):
        gate = module_output / np.where(module_input == 0, 1, module_input)
        spreads.append(float(np.median(np.where(module_input == 0, 0, gate).std(axis=(1, 2)))))
    # A gate constant over space spreads by float32 rounding only (~1e-7 of gates near 0.5);
    # 1e-4 separates that from real variation. Some initial kernels leave a module's gate
    # constant over space (with seed 4, the first module's), so the check asks for most of the
    # modules, in both stages (measured with seed 4: 5 of 6, spreads 3e-2 to 0.19).
    varying = [spread > 1e-4 for spread in spreads]
    assert sum(varying) >= 4 and any(varying[:3]) and any(varying[3:]), spreads

    report = export(
        model,
        tmp_path,
        FORMATS,
        representative_data=train,
        verification_data=validation,
        verification_samples=96,
        latency_repeats=2,
    )
    assert report["passed"]
    assert [a["format"] for a in report["artifacts"]] == FORMATS
    check_resnet20_graphs(report, "mssar")
    for artifact in report["artifacts"]:
        assert artifact["passed"], artifact
        # Probabilities can saturate; the logits must match too.
        assert artifact["logits_max_abs_diff"] <= 1e-3, artifact
    tflite, onnx_path = (tmp_path / a["path"] for a in report["artifacts"][1:])
    names = operators(tflite.read_bytes())
    assert all(name.isupper() and name != "CUSTOM" for name in names), names
    # The scales are pooled by TFLite's builtin average pooling, not folded away.
    assert "AVERAGE_POOL_2D" in names
    onnx_model = onnx.load(str(onnx_path))
    onnx.checker.check_model(onnx_model)
    assert "AveragePool" in {node.op_type for node in onnx_model.graph.node}
    # The upsampling of the scales: no deprecated coordinate mode (ONNX Runtime warns about
    # it on every session start and keeps such a resize out of its NCHWc layout).
    modes = {
        attribute.s.decode()
        for node in onnx_model.graph.node
        if node.op_type == "Resize"
        for attribute in node.attribute
        if attribute.name == "coordinate_transformation_mode"
    }
    assert modes == {"asymmetric"}, modes
