"""The names that the registries behind a run accept, importable without Keras: the
command line reads its options and [`RunConfig`][keras_angular.run_config.RunConfig] checks
them before TensorFlow, Keras or JAX is imported (``keras-angular --help`` and a bad
option answer at once).

Each tuple lists the keys of a registry that imports Keras (a test keeps them equal):

Examples:
    >>> BACKBONE_NAMES[7:10], RECIPE_NAMES
    (('small_cnn', 'mlp', 'convnexttiny'), ('paper', 'official'))
"""

BACKBONE_NAMES = (
    "amc_cnn",
    "amc_mnist_cnn",
    "resnet20",
    "resnet18",
    "resnet34",
    "resnet50",
    "wsoftmax_cnn",
    "small_cnn",
    "mlp",
    "convnexttiny",
    "convnextsmall",
    "convnextbase",
    "convnextlarge",
    "convnextxlarge",
    "densenet121",
    "densenet169",
    "densenet201",
    "efficientnetb0",
    "efficientnetb1",
    "efficientnetb2",
    "efficientnetb3",
    "efficientnetb4",
    "efficientnetb5",
    "efficientnetb6",
    "efficientnetb7",
    "efficientnetv2b0",
    "efficientnetv2b1",
    "efficientnetv2b2",
    "efficientnetv2b3",
    "efficientnetv2s",
    "efficientnetv2m",
    "efficientnetv2l",
    "inceptionresnetv2",
    "inceptionv3",
    "mobilenet",
    "mobilenetv2",
    "mobilenetv3small",
    "mobilenetv3large",
    "nasnetmobile",
    "nasnetlarge",
    "keras_resnet50",
    "resnet101",
    "resnet152",
    "resnet50v2",
    "resnet101v2",
    "resnet152v2",
    "vgg16",
    "vgg19",
    "xception",
)
"""The keys of [`keras_angular.models.BACKBONES`][], in its order: the package's own backbones,
then the ``keras.applications`` networks ([`keras_angular.models.APPLICATIONS`][])."""

RECIPE_NAMES = ("paper", "official")
"""The keys of [`keras_angular.callbacks.recipe.RECIPES`][], in its order."""

EXPERIMENT_NAMES = (
    "amc-sphere",
    "amc-table1",
    "arc-angles",
    "haseparator-sweep",
    "wsoftmax-alpha",
)
"""The keys of [`keras_angular.reproduce.EXPERIMENTS`][], sorted."""

__all__ = ["BACKBONE_NAMES", "EXPERIMENT_NAMES", "RECIPE_NAMES"]
