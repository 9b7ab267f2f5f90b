"""Grad-CAM maps, overlays, comparison grids and faithfulness scores.

The one package that uses ``tf-keras-vis`` (in ``grad_cam``:
replacing that dependency is one file), so the one that needs the TensorFlow backend
([`gradcam`][keras_angular.explain.gradcam] says so on another):

* [`gradcam`][keras_angular.explain.gradcam] - Grad-CAM (Selvaraju et al., ICCV 2017, Eq. 1-2) or
  Grad-CAM++ (Chattopadhay et al., WACV 2018) heatmaps, ``(B, H, W)`` in [0, 1] at the input
  size, batched, with a progress bar; any Keras classifier whose class scores are its
  single output or the ``"logits"`` entry of a dict output (the registry's
  ``{"logits", "embedding"}`` models), with a [`CosineDense`][keras_angular.layers.CosineDense],
  [`WeightsBiasedDense`][keras_angular.layers.WeightsBiasedDense] or ``Dense`` head, built in memory
  or loaded from a ``.keras`` file; nested backbones (a ``keras.Model`` used as a layer)
  are searched too;
* [`class_scores`][keras_angular.explain.class_scores] /
  [`class_probabilities`][keras_angular.explain.class_probabilities] - the head's output and the
  softmax of the logits the model was trained with;
* [`overlay`][keras_angular.explain.overlay] and [`save_grid`][keras_angular.explain.save_grid] -
  heatmaps over images (jet colour map) and the AMC-Loss paper's Fig. 2 / Fig. 6 layout: one row per
  image, the image, then for each model its map and its overlay, titled with the predicted class and
  its score;
* [`deletion_auc`][keras_angular.explain.deletion_auc] /
  [`insertion_auc`][keras_angular.explain.insertion_auc] - the causal faithfulness metrics of
  Petsiuk et al. (RISE, BMVC 2018, Sec. 4.1), batched and seeded, with
  [`random_heatmaps`][keras_angular.explain.random_heatmaps] as the baseline a map must beat;
* [`pointing_game`][keras_angular.explain.pointing_game] /
  [`mass_in_mask`][keras_angular.explain.mass_in_mask] - localisation against known masks;
* [`explain_report`][keras_angular.explain.explain_report] - all of it for several models on the
  same images (what ``keras-angular explain`` writes).

Every name is importable from ``keras_angular.explain``; the modules behind them are
``input_checks`` (what the functions take), ``model_surgery`` (the class-score model,
the explained layer and the Grad-CAM model), ``grad_cam``, ``scoring`` (class scores
and probabilities), ``faithfulness`` (deletion / insertion, random maps),
``localisation``, ``figures`` and ``report``.

**The class score.** Grad-CAM differentiates a class score ``y^c`` (Selvaraju et al.
use the pre-softmax score). Here ``y^c`` is the head's output for class ``c``:

* a ``Dense`` head: its logit ``w_c . x + b_c`` (a softmax activation on the head is
  replaced by the identity, tf-keras-vis' ``ReplaceToLinear``, on a copy);
* a [`CosineDense`][keras_angular.layers.CosineDense] head: ``cos(theta_c)``. The training
  logit of every cosine loss at inference is ``s * cos(theta_c)`` (NormFace, CosFace,
  ArcFace, HASeparator: margins exist only in training, where the label is known), a
  positive multiple of the cosine, so it has the same gradient direction and, after
  Grad-CAM's per-map normalisation, exactly the same map; for the Angular "Arc" loss
  the logit ``s (pi - theta_c)`` is monotone in ``cos(theta_c)`` too. The softmax
  probability would be the wrong score: ``d p_c = s p_c [(1 - p_c) d cos_c -
  sum_{j != c} p_j d cos_j]`` mixes in the other classes' cosines (the map then
  shows what separates c from its rivals, not what makes c), and with the large
  scales of these losses (``s = 64``) ``p_c`` saturates at 1 and the gradient
  vanishes;
* a [`WeightsBiasedDense`][keras_angular.layers.WeightsBiasedDense] head: ``||x|| cos(theta_c)``,
  W-Softmax's logit itself.

**The layer.** By default the last layer with a spatial output ``(B, h, w, k)``
(searched from the output back, into nested models): the last convolution block's
feature maps after its batch norm and activation, the rectified maps ``A^k`` that
Grad-CAM weighs. Pass ``layer=`` (a name or a layer) for another one.

References:
    R. R. Selvaraju, M. Cogswell, A. Das, R. Vedantam, D. Parikh and D. Batra,
    "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
    Localization", ICCV 2017. A. Chattopadhay, A. Sarkar, P. Howlader and
    V. N. Balasubramanian, "Grad-CAM++: Generalized Gradient-based Visual Explanations
    for Deep Convolutional Networks", WACV 2018. V. Petsiuk, A. Das and K. Saenko,
    "RISE: Randomized Input Sampling for Explanation of Black-box Models", BMVC 2018.
    J. Zhang, Z. Lin, J. Brandt, X. Shen and S. Sclaroff, "Top-down Neural Attention by
    Excitation Backprop", ECCV 2016. H. Choi, A. Som and P. Turaga, "AMC-Loss: Angular
    Margin Contrastive Loss for Improved Explainability in Image Classification", CVPR
    Workshops 2020.

Examples:
    >>> import keras, numpy as np
    >>> from keras_angular import explain
    >>> from keras_angular.layers import CosineDense
    >>> inputs = keras.Input((16, 16, 1))
    >>> x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(x)
    >>> model = keras.Model(inputs, CosineDense(3, name="head")(x))
    >>> images = np.random.default_rng(0).random((2, 16, 16, 1), dtype="float32")
    >>> explain.gradcam(model, images, progress=False).shape
    (2, 16, 16)
"""

from keras_angular.explain.faithfulness import (
    CANVASES,
    deletion_auc,
    insertion_auc,
    perturbation_curves,
    random_heatmaps,
)
from keras_angular.explain.figures import overlay, save_grid
from keras_angular.explain.grad_cam import METHODS, gradcam
from keras_angular.explain.localisation import mass_in_mask, pointing_game
from keras_angular.explain.model_surgery import feature_map_layer, score_model
from keras_angular.explain.report import explain_report
from keras_angular.explain.scoring import class_probabilities, class_scores

# In reading order (each name builds on the ones before it), not alphabetical.
__all__ = [
    "METHODS",
    "CANVASES",
    "score_model",
    "feature_map_layer",
    "gradcam",
    "class_scores",
    "class_probabilities",
    "perturbation_curves",
    "deletion_auc",
    "insertion_auc",
    "random_heatmaps",
    "pointing_game",
    "mass_in_mask",
    "overlay",
    "save_grid",
    "explain_report",
]
