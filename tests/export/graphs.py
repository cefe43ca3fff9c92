"""The exported graphs' operators, pinned (docs/design.md §14).

What every exported graph must avoid: a layout transpose inside the network (one at the input
is ONNX's NHWC-to-NCHW), a shape computed at run time (the models have a static image size),
a dtype change (they are float32 throughout). Beyond that, the exact operator counts of the
test models are pinned, so that any change to a module's exported form shows up here and is
looked at.
"""

from __future__ import annotations

# ONNX operators that compute shapes or change dtypes at run time.
RUN_TIME_SHAPES_ONNX = {
    "Shape", "Gather", "Cast", "ConstantOfShape", "Range", "Expand", "NonZero", "Reshape",
}  # fmt: skip
RUN_TIME_SHAPES_TFLITE = {"TRANSPOSE", "SHAPE", "GATHER", "CAST", "PACK", "RESHAPE"}

# ResNet-20 at 8x8 (tests/export/conftest.py), per module, as export() writes it: ONNX nodes and
# float32 TFLite operators. The plain network's graph plus, per block, what the module is:
#   se:    global average pool, two 1x1 convolutions (ReLU between), sigmoid, product
#   ge:    the gather as one depthwise convolution over the map (ONNX) or a product with the
#          kernel and a sum (TFLite), the bias, sigmoid, product
#   srm:   mean and centred sum of squares (global pools, subtraction, square, sum, sqrt),
#          the folded CFC as a depthwise convolution over (mean, std), sigmoid, product
#   mssar: per scale a pooling, the folded reduction, the spatial kernel, the expansion and a
#          nearest resize; the sum, sigmoid and product
PLAIN_ONNX = {
    "Add": 9, "Conv": 19, "GlobalAveragePool": 1, "MatMul": 1, "Mul": 1, "Pad": 2, "Relu": 19,
    "Slice": 2, "Softmax": 1, "Squeeze": 1, "Sub": 1, "Transpose": 1,
}  # fmt: skip
PLAIN_TFLITE = {
    "ADD": 9, "CONV_2D": 19, "FULLY_CONNECTED": 1, "MEAN": 1, "MUL": 1, "PAD": 4, "SOFTMAX": 1,
    "STRIDED_SLICE": 2, "SUB": 1,
}  # fmt: skip
RESNET20_GRAPHS = {
    None: (PLAIN_ONNX, PLAIN_TFLITE),
    "se": (
        {**PLAIN_ONNX, "Conv": 37, "GlobalAveragePool": 10, "Mul": 10, "Relu": 28,
         "Sigmoid": 9},
        {**PLAIN_TFLITE, "CONV_2D": 37, "LOGISTIC": 9, "MEAN": 10, "MUL": 10},
    ),
    "ge": (
        {**PLAIN_ONNX, "Conv": 28, "Mul": 10, "Sigmoid": 9},
        {**PLAIN_TFLITE, "ADD": 18, "LOGISTIC": 9, "MUL": 19, "SUM": 9},
    ),
    "srm": (
        {**PLAIN_ONNX, "Add": 18, "Concat": 9, "Conv": 28, "GlobalAveragePool": 10, "Mul": 28,
         "ReduceSum": 9, "Sigmoid": 9, "Sqrt": 9, "Sub": 10},
        {**PLAIN_TFLITE, "ADD": 18, "CONCATENATION": 9, "DEPTHWISE_CONV_2D": 9, "LOGISTIC": 9,
         "MEAN": 10, "MUL": 19, "SQRT": 9, "SQUARED_DIFFERENCE": 9, "SUM": 9},
    ),
    "mssar": (
        {**PLAIN_ONNX, "Add": 27, "AveragePool": 18, "Conv": 91, "GlobalAveragePool": 10,
         "Mul": 10, "Relu": 46, "Resize": 18, "Sigmoid": 9, "Slice": 5},
        {**PLAIN_TFLITE, "ADD": 36, "AVERAGE_POOL_2D": 18, "CONV_2D": 73,
         "DEPTHWISE_CONV_2D": 18, "LOGISTIC": 9, "MEAN": 10, "MUL": 10,
         "RESIZE_NEAREST_NEIGHBOR": 18, "STRIDED_SLICE": 5},
    ),
}  # fmt: skip


def check_clean(report: dict) -> None:
    """Every ONNX and TFLite artifact of an export report avoids layout transposes inside the
    network and run-time shapes."""
    for artifact in report["artifacts"]:
        operators = artifact.get("operators")
        if artifact["format"] == "onnx":
            assert operators.get("Transpose", 0) <= 1, operators
            assert not RUN_TIME_SHAPES_ONNX & set(operators), operators
        elif artifact["format"].startswith("tflite"):
            assert not RUN_TIME_SHAPES_TFLITE & set(operators), (artifact["format"], operators)


def check_resnet20_graphs(report: dict, recalibration) -> None:
    """The report's ONNX and float32 TFLite operators are RESNET20_GRAPHS[recalibration]."""
    check_clean(report)
    expected_onnx, expected_tflite = RESNET20_GRAPHS[recalibration]
    by_format = {a["format"]: a.get("operators") for a in report["artifacts"]}
    assert by_format["onnx"] == expected_onnx, (by_format["onnx"], expected_onnx)
    assert by_format["tflite_float32"] == expected_tflite, (
        by_format["tflite_float32"],
        expected_tflite,
    )
