"""Verification: numbers, bounds, and a tampered artifact that must fail."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from srm_keras.export import ParityError, export, verify
from srm_keras.export.parity import allowed_disagreements, compare, failures
from srm_keras.export.report import REPORT_MARKDOWN, read_report
from tests.export.conftest import perturbed_resnet20


def test_compare_numbers():
    reference = {
        "logits": np.array([[2.0, 0.0], [0.0, 1.0]]),
        "probabilities": np.array([[0.9, 0.1], [0.3, 0.7]]),
    }
    outputs = {
        "logits": np.array([[2.5, 0.0], [0.0, 1.0]]),
        "probabilities": np.array([[0.4, 0.6], [0.3, 0.7]]),
    }
    metrics = compare(reference, outputs)
    assert metrics == pytest.approx(
        {
            "samples": 2,
            "disagreements": 1,
            "max_abs_diff": 0.5,
            "logits_max_abs_diff": 0.5,
            "top1_agreement": 0.5,
        }
    )


def _agreement(samples, disagreements):
    return {
        "max_abs_diff": 0.2,
        "samples": samples,
        "disagreements": disagreements,
        "top1_agreement": 1 - disagreements / samples,
    }


def test_failures_name_the_missed_bound():
    assert failures("onnx", {"max_abs_diff": 1e-5}, True) == []
    (missed,) = failures("onnx", {"max_abs_diff": 2e-4}, True)
    assert "2.000e-04 > 0.0001" in missed
    assert failures("tflite_int8", _agreement(360, 11), True) == []
    (missed,) = failures("tflite_int8", _agreement(360, 12), True)
    assert "96.67%: 12 of 360 images differ, more than the 11" in missed
    assert "held-out" in failures("tflite_int8", _agreement(360, 0), False)[0]
    assert failures("tflite_float16", {"max_abs_diff": 0.03}, True)
    # float16 is bounded by its probabilities alone: a flip within them is a tie.
    assert failures("tflite_float16", {**_agreement(96, 5), "max_abs_diff": 0.01}, True) == []


def test_allowed_disagreements_is_the_binomial_quantile():
    # P(X > k) for X ~ Binomial(n, 0.01), summed exactly in fractions.
    from fractions import Fraction
    from math import comb

    def tail(n, k):
        p = Fraction(1, 100)
        return 1 - sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))

    for n in (1, 10, 96, 360, 1000):
        k = allowed_disagreements(n)
        assert tail(n, k) <= Fraction(1, 1000) < (tail(n, k - 1) if k > 0 else 1), n
    assert [allowed_disagreements(n) for n in (0, 96, 360, 1000)] == [0, 5, 11, 21]


@pytest.fixture
def export_copy(tmp_path, srm_export):
    output, _ = srm_export
    copy = tmp_path / "export"
    shutil.copytree(output, copy)
    return copy


def test_verify_repeats_the_export_check(export_copy, srm_model):
    report = verify(export_copy, latency_repeats=2)
    assert report["passed"] and all(a["passed"] for a in report["artifacts"])
    again = verify(export_copy, model=srm_model, latency_repeats=2)
    assert again["passed"] and again["keras"]["latency_ms"] > 0
    assert read_report(export_copy)["passed"]


def test_a_wrong_artifact_fails_verification(export_copy):
    other = perturbed_resnet20("srm", seed=7)
    decoy = export(other, export_copy.parent / "decoy", ["tflite_float32"], verify=False)
    shutil.copy(
        export_copy.parent / "decoy" / decoy["artifacts"][0]["path"],
        export_copy / "tflite" / "srm_resnet20_float32.tflite",
    )
    with pytest.raises(
        ParityError, match="tflite_float32: max abs diff of probabilities"
    ) as caught:
        verify(export_copy, latency_repeats=1)
    report = caught.value.report
    assert not report["passed"]
    failed = [a["format"] for a in report["artifacts"] if not a["passed"]]
    assert failed == ["tflite_float32"]
    assert "**FAIL**" in (export_copy / REPORT_MARKDOWN).read_text()
    assert not read_report(export_copy)["passed"]
    assert not verify(export_copy, latency_repeats=1, raise_on_failure=False)["passed"]


def test_a_different_keras_model_fails_verification(export_copy):
    with pytest.raises(ParityError):
        verify(export_copy, model=perturbed_resnet20("srm", seed=9), latency_repeats=1)


def test_unverified_export_and_markdown(tmp_path, srm_model):
    report = export(srm_model, tmp_path, "tflite_float32,onnx", verify=False)
    assert "passed" not in report and report["verification"]["origin"] == "random"
    assert "not verified" in (tmp_path / REPORT_MARKDOWN).read_text()
    with pytest.raises(ValueError, match="Unknown export formats"):
        export(srm_model, tmp_path, ["tflite_int4"])
    with pytest.raises(ValueError, match="no export_report.json"):
        verify(tmp_path / "tflite")
