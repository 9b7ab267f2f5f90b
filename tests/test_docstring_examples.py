"""Every docstring example of the package runs and prints what it says (doctest)."""

import doctest
import importlib
import pkgutil

import pytest

import keras_angular

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(keras_angular.__path__, "keras_angular.")
    if not info.name.endswith("_startup")
)


def test_the_walk_finds_the_package():
    assert {"keras_angular.losses.margin", "keras_angular.explain", "keras_angular.ops"} <= set(
        MODULES
    )


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    result = doctest.testmod(
        importlib.import_module(module),
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        report=False,
    )
    assert result.failed == 0, result
