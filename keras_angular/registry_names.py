"""The names that the registries behind a run accept, importable without Keras: the
command line reads its options and [`RunConfig`][keras_angular.run_config.RunConfig] checks
them before TensorFlow, Keras or JAX is imported (``keras-angular --help`` and a bad
option answer at once).

Each tuple lists the keys of a registry that imports Keras (a test keeps them equal):

Examples:
    >>> BACKBONE_NAMES[-2:], RECIPE_NAMES
    (('small_cnn', 'mlp'), ('paper', 'official'))
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
)
"""The keys of [`keras_angular.models.BACKBONES`][], in its order."""

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
