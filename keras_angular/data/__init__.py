"""Datasets and input pipelines: TFDS loaders, an offline default, and the papers' preprocessing.

``load_dataset(name)`` returns a [`DatasetSplits`][keras_angular.data.DatasetSplits] of float32 NHWC
images and int32 labels from:

- a TensorFlow Datasets name: ``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100``
  (fine labels; ``coarse_labels=True`` gives the 20 superclasses AMC-Loss Sec. 4.2
  evaluates) or ``svhn_cropped`` (the 73,257 / 26,032 train / test images, without
  "extra", as AMC-Loss and HASeparator use). Loaded with ``tfds.load``; a dataset that
  is neither on disk nor downloadable raises
  [`DatasetUnavailableError`][keras_angular.data.DatasetUnavailableError];
- ``"digits"``: scikit-learn's bundled 1,797 real 8x8 handwritten digits (offline default);
- a folder with one sub-folder of images per class (JPEG / PNG / BMP / GIF of any sizes,
  decoded and resized in parallel by ``keras_angular.data.folders``);
- an ``.npz`` file with ``x_train, y_train, x_test, y_test`` or with ``x, y``.

Preprocessing (``standardize``):

- ``"channel"`` (default): scale to [0, 1], then z-score each channel with the mean and
  std of the *training* images, applied to both splits (Angular loss Sec. 4.1: "a
  z-score normalization"; the statistics are kept on the splits as ``mean`` / ``std``);
- ``"image"``: scale to [0, 1], then each image to zero mean and unit variance
  (HASeparator Sec. IV-A: "each image is linearly scaled to display a mean value of 0
  and a variance of 1"; its code uses ``tf.image.per_image_standardization``);
- ``None``: scale to [0, 1] only (the AMC-Loss authors' code divides by 256 and does not
  whiten).

``train_dataset`` / ``test_dataset`` build seeded ``tf.data`` pipelines; augmentation
``"cifar"`` is the CIFAR10+ recipe (pad 4, random crop, random horizontal flip; Angular
loss Sec. 4.1 after Lee et al.), ``"translate"`` the AMC-Loss code's random translation
by up to 2 pixels (reflect padding, no flip). ``subsample`` draws a seeded,
class-stratified subset.

The package's modules, one idea each (every name above is importable from
``keras_angular.data`` itself): ``splits`` ([`DatasetSplits`][keras_angular.data.DatasetSplits] and
its checks), ``sources`` (``load_dataset`` and its sources), ``npz`` (the ``.npz`` reader),
``preprocessing`` (scaling and standardization), ``augmentation``, ``pipelines``
(``tf.data``) and ``subsampling``.
"""

from keras_angular.data.augmentation import AUGMENTATIONS, augment_batch
from keras_angular.data.pipelines import test_dataset, train_dataset
from keras_angular.data.preprocessing import STANDARDIZATIONS
from keras_angular.data.sources import TFDS_DATASETS, DatasetUnavailableError, load_dataset
from keras_angular.data.splits import DatasetSplits
from keras_angular.data.subsampling import subsample

__all__ = [
    "AUGMENTATIONS",
    "DatasetSplits",
    "DatasetUnavailableError",
    "STANDARDIZATIONS",
    "TFDS_DATASETS",
    "augment_batch",
    "load_dataset",
    "subsample",
    "test_dataset",
    "train_dataset",
]
