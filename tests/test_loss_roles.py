"""How a loss declares what it reads: the role flags of PerSampleLoss, the 0.1.0
``head_role`` strings they replaced, and what PartialFCLoss accepts to wrap."""

import numpy as np
import pytest

from keras_angular.layers import ClassCenters, CosineDense
from keras_angular.losses import (
    AMCLoss,
    ArcFaceLoss,
    CenterLoss,
    EuclideanContrastiveLoss,
    HASeparatorLoss,
    PartialFCLoss,
)
from keras_angular.losses.base import PerSampleLoss


def _kernel_sum(labels, y_pred, kernel):
    # a per-sample value that can only be computed from the head's kernel
    return np.asarray(kernel).sum() + 0.0 * np.asarray(y_pred)[:, 0]


def test_head_role_kernel_of_a_010_subclass_still_hands_the_kernel_over():
    with pytest.warns(DeprecationWarning, match="reads_head_kernel = True"):

        class OldStyle(PerSampleLoss):
            head_types = (CosineDense,)
            head_role = "kernel"

            def __init__(self, head=None):
                super().__init__(_kernel_sum, head=head)

    head = CosineDense(3)
    head.build((None, 4))
    loss = OldStyle(head=head)
    assert OldStyle.reads_head_kernel and not OldStyle.labels_from_head
    values = loss.compute(np.array([0, 1]), np.ones((2, 3), "float32"), None)
    np.testing.assert_allclose(np.asarray(values), np.asarray(head.kernel).sum(), rtol=1e-6)


def test_head_role_labels_sets_labels_from_head_and_a_bad_role_is_refused():
    with pytest.warns(DeprecationWarning):

        class OldLabels(PerSampleLoss):
            head_types = (CosineDense,)
            head_role = "labels"

    assert OldLabels.labels_from_head and not OldLabels.reads_head_kernel
    with pytest.raises(TypeError, match="head_role"):

        class Wrong(PerSampleLoss):
            head_role = "centers"


@pytest.mark.parametrize(
    "make",
    [
        lambda: AMCLoss(),
        lambda: EuclideanContrastiveLoss(),
        lambda: CenterLoss(head=ClassCenters(3)),
    ],
    ids=["amc", "euclidean", "center"],
)
def test_partial_fc_refuses_a_loss_on_the_embedding(make):
    with pytest.raises(TypeError, match="cosine-head loss"):
        PartialFCLoss(make(), 0.5, head=CosineDense(3))


def test_partial_fc_wraps_the_cosine_head_losses():
    head = CosineDense(3)
    head.build((None, 4))
    for inner in (ArcFaceLoss(), HASeparatorLoss(head=head)):
        assert PartialFCLoss(inner, 0.5, head=head).inner is inner
