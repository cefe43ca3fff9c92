"""The ImageNet class names shipped in the package, and decode_predictions."""

import numpy as np
import pytest

from srm_keras.weights import decode_predictions, imagenet_classes


def test_the_class_list_is_complete_and_in_index_order():
    classes = imagenet_classes()
    assert len(classes) == 1000
    wnids = [c.wnid for c in classes]
    assert wnids == sorted(wnids) and len(set(wnids)) == 1000  # torchvision's order
    assert (classes[0].wnid, classes[0].name) == ("n01440764", "tench")
    assert classes[207].name == "golden retriever"
    assert classes[999].lemmas == "toilet tissue, toilet paper, bathroom tissue"


def test_decode_predictions_top_k():
    scores = np.zeros((2, 1000), np.float32)
    scores[0, [3, 207, 1]] = [0.2, 0.7, 0.1]
    scores[1, 999] = 5.0
    decoded = decode_predictions(scores, top=3)
    assert [p.class_id for p in decoded[0]] == [207, 3, 1]
    assert decoded[0][0] == (207, "golden retriever", pytest.approx(0.7))
    assert decoded[1][0].name == "toilet tissue" and len(decoded[1]) == 3


@pytest.mark.parametrize("shape", [(1000,), (2, 10), (1, 2, 1000)])
def test_decode_predictions_rejects_other_shapes(shape):
    with pytest.raises(ValueError, match=r"shape \(batch, 1000\)"):
        decode_predictions(np.zeros(shape))


def test_decode_predictions_rejects_bad_top():
    with pytest.raises(ValueError, match="top must be an integer from 1 to 1000"):
        decode_predictions(np.zeros((1, 1000)), top=0)
