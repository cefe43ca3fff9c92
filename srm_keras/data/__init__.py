"""Input pipelines: the embedded digits, tensorflow-datasets and image folders as batched tf.data.

``load_datasets(source, image_size=..., batch_size=...)`` returns a :class:`DataBundle` of
training and validation pipelines; see :mod:`srm_keras.data.loader`. ``Digits`` is the
tensorflow-datasets builder of the embedded digits: importing ``srm_keras.data`` registers it, so
``tfds.load("digits")`` prepares them offline.
"""

from srm_keras.data.digits import Digits
from srm_keras.data.loader import DataBundle, load_datasets

__all__ = ["DataBundle", "Digits", "load_datasets"]
