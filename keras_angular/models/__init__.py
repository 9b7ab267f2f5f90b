"""The papers' backbones, each a ``keras.Model`` from images to the penultimate embedding.

Every builder returns a model **without** a classification head: its output layer is
named ``"embedding"`` and the caller attaches the head (named ``"head"``), e.g.:

```python
import keras
from keras_angular.models import build_backbone
from keras_angular.layers import CosineDense

backbone = build_backbone("resnet20", (32, 32, 3))
logits = CosineDense(10, name="head")(backbone.output)
model = keras.Model(backbone.input, logits)
```

Backbones (``BACKBONES``; name -> architecture, source, embedding size):

- ``amc_cnn``: AMC-Loss Table 2 (top), CIFAR-10/100 and SVHN; 128-d.
- ``amc_mnist_cnn``: AMC-Loss Table 2 (bottom), the MNIST net of Figs. 1 and 4; 2- or 3-d.
- ``resnet20``: He et al. (2016) CIFAR ResNet, 16-32-64 filters; 64-d. Angular loss
  Table 1 (Fashion-MNIST).
- ``resnet18`` / ``resnet34``: basic-block ResNets adapted to 32x32; 512-d. Angular loss
  Table 1 (CIFAR-10 / CIFAR-100); HASeparator Sec. IV (ResNet-18).
- ``resnet50``: bottleneck ResNet adapted to 32x32; 2048-d, or 64-d with the extra dense
  layer of HASeparator Sec. IV (``embedding_dim=64``).
- ``wsoftmax_cnn``: Liu et al. (2016, L-Softmax) Table 1 nets with PReLU + BN, as
  W-Softmax Sec. 5.1 uses them; 256-d (MNIST, CIFAR-10) or 512-d (CIFAR-100).
- ``small_cnn``: a small VGG-style CNN (not from the papers), the backbone of a run that
  names none for images larger than 16x16
  ([`default_backbone`][keras_angular.models.default_backbone]); 128-d.
- ``mlp``: Flatten -> Dense 128 ReLU -> Dense, for tiny inputs (8x8 digits); 32-d.
- every ``keras.applications`` network ([`APPLICATIONS`][keras_angular.models.APPLICATIONS]:
  ``mobilenetv3small``, ``efficientnetv2b0``, ``convnexttiny``, ``densenet121``, ``resnet50v2``
  ...; Keras' ResNet50 is ``keras_resnet50``), built without its top by
  [`application_backbone`][keras_angular.models.application_backbone]: the network's own
  preprocessing, grayscale to RGB, small images resized up to its minimum size (32x32 for
  most), global pooling, then a linear embedding (512-d by default). ``weights="imagenet"``
  loads Keras' pretrained weights;
  [`feature_extractor_layers`][keras_angular.models.feature_extractor_layers] names the body to
  freeze while the head trains first.

``build_backbone(None, input_shape)`` builds
[`default_backbone`][keras_angular.models.default_backbone] ``(input_shape)``. Import every name
from ``keras_angular.models``; its modules hold one family each: ``amc`` (AMC-Loss CNNs), ``resnet``
(CIFAR ResNets), ``wsoftmax`` (W-Softmax CNN), ``small`` (``small_cnn``, ``mlp``), ``registry``
(``BACKBONES``, ``build_backbone``), ``applications`` (the ``keras.applications`` networks),
``weights`` (where a backbone's weights come from, and which layers hold its body), ``parts``
(what they share: batch norm, weight decay, input checks).

Parameter counts with a 10-class ``Dense`` head (trainable): ResNet-20 269,722
(He et al. Table 6: 0.27M), ResNet-18 11,173,962, ResNet-34 21,282,122, ResNet-50
23,520,842 (the usual CIFAR adaptations: 11.2M / 21.3M / 23.5M).

All convolution / dense kernels accept ``weight_decay``: an L2 penalty
``weight_decay / 2 * ||w||^2`` per kernel, whose gradient ``weight_decay * w`` is the
classic (coupled) weight decay of the papers' SGD / Adam runs (Angular loss Table 1:
5e-4; HASeparator Sec. IV-A: 1e-4). Keras optimizers' own ``weight_decay=`` argument
is the decoupled (AdamW) kind, which is not what the papers used.
"""

from keras_angular.models.amc import amc_cnn, amc_mnist_cnn
from keras_angular.models.applications import (
    APPLICATIONS,
    ApplicationSpec,
    ImageNetPreprocessing,
    application_backbone,
)
from keras_angular.models.parts import BN_MOMENTUM
from keras_angular.models.registry import (
    BACKBONES,
    OWN_BACKBONES,
    build_backbone,
    default_backbone,
)
from keras_angular.models.resnet import OptionAShortcut, cifar_resnet
from keras_angular.models.small import mlp, small_cnn
from keras_angular.models.weights import (
    BackboneWeightsError,
    feature_extractor_layers,
    load_backbone_weights,
)
from keras_angular.models.wsoftmax import wsoftmax_cnn

__all__ = [
    "APPLICATIONS",
    "ApplicationSpec",
    "BACKBONES",
    "BN_MOMENTUM",
    "BackboneWeightsError",
    "ImageNetPreprocessing",
    "OWN_BACKBONES",
    "OptionAShortcut",
    "amc_cnn",
    "amc_mnist_cnn",
    "application_backbone",
    "build_backbone",
    "cifar_resnet",
    "default_backbone",
    "feature_extractor_layers",
    "load_backbone_weights",
    "mlp",
    "small_cnn",
    "wsoftmax_cnn",
]
