"""Input pipelines: the embedded digits, tensorflow-datasets and image folders as batched tf.data.

``load_datasets(source, image_size=..., batch_size=...)`` returns a :class:`DataBundle` of
training and validation pipelines; see :mod:`srm_keras.data.loader`.
"""

from srm_keras.data.loader import DataBundle, load_datasets

__all__ = ["DataBundle", "load_datasets"]
