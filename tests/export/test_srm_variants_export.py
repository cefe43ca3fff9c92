"""SRM's ablation variants through SavedModel, TFLite float32 and ONNX, with parity, and with
batch-norm folding on (the default): the pooling variants fold, the MLP is exported unfolded."""

from __future__ import annotations

import onnx
import pytest

from srm_keras.export import export
from srm_keras.export.tflite import operators
from srm_keras.layers import StyleRecalibration
from tests.export.conftest import perturbed_resnet20, randomise_module_kernels

FORMATS = ["savedmodel", "tflite_float32", "onnx"]


def _perturbed(recalibration, seed):
    """perturbed_resnet20 randomises the CFC and every BN; the MLP's kernels are randomised
    here too, since its second kernel starts at zero and would leave the MLP untested."""
    model = perturbed_resnet20(recalibration, seed=seed)
    return model, randomise_module_kernels(model, StyleRecalibration, seed)


@pytest.mark.parametrize(
    "recalibration, folded", [("srm_mean", True), ("srm_std", True), ("srm_mlp", False)]
)
def test_variant_resnet20_exports_with_parity(tmp_path, digits, recalibration, folded):
    train, validation = digits
    model, modules = _perturbed(recalibration, seed=5)
    assert len(modules) == 9
    report = export(
        model,
        tmp_path,
        FORMATS,
        representative_data=train,
        verification_data=validation,
        verification_samples=32,
        latency_repeats=1,
    )
    assert report["passed"]
    assert [a["format"] for a in report["artifacts"]] == FORMATS
    for artifact in report["artifacts"]:
        assert artifact["passed"], artifact
        # Probabilities can saturate; the logits must match too.
        assert artifact["logits_max_abs_diff"] <= 1e-3, artifact
    folding = report["batchnorm_folding"]
    assert folding["applied"] == folded, folding
    if folded:
        assert folding["modules"] == 9
    else:
        assert folding["reason"] == "no foldable modules"
    tflite, onnx_path = (tmp_path / a["path"] for a in report["artifacts"][1:])
    names = operators(tflite.read_bytes())
    assert all(name.isupper() and name != "CUSTOM" for name in names), names
    onnx.checker.check_model(onnx.load(str(onnx_path)))
