"""srm_keras.export.onnx_model.drop_identity_reshapes: only reshapes that change nothing go."""

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from srm_keras.export.onnx_model import drop_identity_reshapes


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
