"""The serving model as one frozen TensorFlow graph, the source of every artifact.

The Keras model is traced once and frozen: every variable and captured constant becomes a
graph constant. The SavedModel's signatures, the four TFLite variants and the ONNX model are
all built from this one graph, so they compute the same operations, and the several seconds a
trace of a Keras model (and a SavedModel with variables) costs are paid once per export.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from srm_keras.export.signatures import pixels_spec

OUTPUTS = ("logits", "probabilities")


@dataclass(frozen=True)
class FrozenGraph:
    """A frozen ``images -> (logits, probabilities)`` function.

    ``function`` takes the images tensor and returns the outputs in the order of
    ``OUTPUTS``; ``predict`` is the same as a ``tf.function`` returning a dict keyed by
    output name, which is what converters need to name the outputs.
    """

    function: tf.types.experimental.ConcreteFunction
    predict: tf.types.experimental.ConcreteFunction
    height: int
    width: int

    @property
    def classes(self) -> int:
        return int(self.function.outputs[0].shape[-1])

    @property
    def graph_def(self):
        return self.function.graph.as_graph_def()

    @property
    def input_name(self) -> str:
        return self.function.inputs[0].name

    @property
    def output_names(self) -> dict[str, str]:
        """Graph tensor name -> output name."""
        return {tensor.name: name for tensor, name in zip(self.function.outputs, OUTPUTS)}


def freeze(serving: keras.Model) -> FrozenGraph:
    """Trace ``serving`` (see ``prepare.serving_model``) once and freeze it."""
    _, height, width, _ = serving.input_shape
    spec = pixels_spec(height, width)

    @tf.function(input_signature=[spec])
    def traced(images):
        outputs = serving(images, training=False)
        # A tuple keeps the output order explicit in the frozen function.
        return tuple(outputs[name] for name in OUTPUTS)

    function = convert_variables_to_constants_v2(traced.get_concrete_function())

    @tf.function(input_signature=[spec])
    def predict(images):
        return dict(zip(OUTPUTS, function(images)))

    return FrozenGraph(function, predict.get_concrete_function(), height, width)
