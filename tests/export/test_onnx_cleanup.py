"""srm_keras.export.onnx_model's clean-ups of tf2onnx's graphs: only reshapes that change nothing
go, and only resizes whose result cannot change take the asymmetric coordinates."""

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from srm_keras.export.onnx_model import asymmetric_integral_resizes, drop_identity_reshapes


def _model(targets: dict[str, list[int]], relu: bool = True) -> onnx.ModelProto:
    """x (N, 4, 1, 1) -> Reshape per target, in a chain [-> Relu] -> y."""
    nodes, initializers, previous = [], [], "x"
    for name, target in targets.items():
        initializers.append(numpy_helper.from_array(np.array(target, np.int64), f"{name}_shape"))
        nodes.append(helper.make_node("Reshape", [previous, f"{name}_shape"], [name]))
        previous = name
    if relu:
        nodes.append(helper.make_node("Relu", [previous], ["y"]))
    else:
        nodes[-1].output[0] = "y"
    graph = helper.make_graph(
        nodes,
        "reshapes",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 1, 1])],
        [
            helper.make_tensor_value_info(
                "y", TensorProto.FLOAT, ["N", *list(targets.values())[-1][1:]]
            )
        ],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, x):
    session = onnxruntime.InferenceSession(model.SerializeToString())
    return session.run(None, {"x": x})[0]


def test_only_the_identities_go_and_the_function_stays():
    model = _model({"same": [-1, 4, 1, 1], "moved": [-1, 1, 1, 4], "copy": [0, 1, 1, 4]})
    x = np.arange(8, dtype=np.float32).reshape(2, 4, 1, 1) - 3
    before = _run(model, x)
    assert drop_identity_reshapes(model) == 2  # "same", and "copy" of the moved shape
    assert [node.output[0] for node in model.graph.node] == ["moved", "y"]
    assert [t.name for t in model.graph.initializer] == ["moved_shape"]
    onnx.checker.check_model(model, full_check=True)
    np.testing.assert_array_equal(_run(model, x), before)
    assert before.shape == (2, 1, 1, 4)


def test_a_fixed_batch_or_a_graph_output_is_kept():
    assert drop_identity_reshapes(_model({"fixed": [2, 4, 1, 1]})) == 0
    assert drop_identity_reshapes(_model({"same": [-1, 4, 1, 1]}, relu=False)) == 0


def _resize(
    scales, mode="tf_half_pixel_for_nn", nearest_mode="floor", roi=(), sizes=None, fed=()
) -> onnx.ModelProto:
    """x (N, 2, 5, 7) -> Resize (nearest) by ``scales`` -> y, the way tf2onnx writes it; or with
    a ``roi``, ``sizes``, or the scales also a graph input (``fed=("scales",)``). A mode of
    None leaves its attribute out."""
    initializers = [
        numpy_helper.from_array(np.array(roi, np.float32), "roi"),
        numpy_helper.from_array(np.array(scales, np.float32), "scales"),
    ]
    inputs = ["x", "roi", "scales"]
    if sizes is not None:
        initializers.append(numpy_helper.from_array(np.array(sizes, np.int64), "sizes"))
        inputs[2:] = ["", "sizes"]
    attributes = {"coordinate_transformation_mode": mode, "nearest_mode": nearest_mode}
    node = helper.make_node(
        "Resize",
        inputs,
        ["y"],
        mode="nearest",
        exclude_outside=0,
        **{key: value for key, value in attributes.items() if value is not None},
    )
    graph = helper.make_graph(
        [node],
        "resize",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 5, 7]),
            *(helper.make_tensor_value_info(name, TensorProto.FLOAT, [4]) for name in fed),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _coordinates(model) -> str | None:
    modes = [a.s.decode() for a in model.graph.node[0].attribute if a.name.startswith("coord")]
    return modes[0] if modes else None


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 8])
def test_whole_factor_upsampling_takes_asymmetric_coordinates_and_reads_the_same_pixels(factor):
    model = _resize([1, 1, factor, factor])
    x = np.random.default_rng(factor).standard_normal((2, 2, 5, 7)).astype(np.float32)
    before = _run(model, x)
    assert asymmetric_integral_resizes(model) == 1 and _coordinates(model) == "asymmetric"
    onnx.checker.check_model(model, full_check=True)
    after = _run(model, x)
    # Nearest upsampling by a whole factor repeats each pixel: bit for bit, in both modes.
    expected = x.repeat(factor, axis=2).repeat(factor, axis=3)
    np.testing.assert_array_equal(before, expected)
    np.testing.assert_array_equal(after, expected)


@pytest.mark.parametrize(
    "options",
    [
        {"scales": [1, 1, 1.5, 1.5]},  # not whole: the modes read other pixels
        {"scales": [1, 1, 0.5, 0.5]},  # downsampling
        {"nearest_mode": "round_prefer_floor"},  # another rounding
        {"nearest_mode": None},  # the default rounding, round_prefer_floor
        {"mode": "half_pixel"},  # not tf2onnx's mode
        {"mode": None},  # the default mode, half_pixel
        {"roi": [0, 0, 0, 0, 1, 1, 1, 1]},  # a region of interest
        {"sizes": [1, 2, 10, 14]},  # output sizes instead of scales
        {"fed": ("scales",)},  # scales a caller may feed
    ],
)
def test_other_resizes_are_left_as_they_are(options):
    model = _resize(**{"scales": [1, 1, 2, 2], **options})
    before = _coordinates(model)
    assert asymmetric_integral_resizes(model) == 0 and _coordinates(model) == before
