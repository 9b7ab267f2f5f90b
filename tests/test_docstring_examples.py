"""Every public class and function has a docstring example, and every docstring example of the
package runs and prints what it says (doctest)."""

import doctest
import importlib
import inspect
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


def _public_objects():
    """``(dotted name, object)`` of every class and function a public module lists in
    ``__all__`` (the command line excepted: docs/cli.md describes it)."""
    for module_name in keras_angular.__all__:
        if module_name.startswith("_") or module_name == "cli":
            continue
        module = importlib.import_module(f"keras_angular.{module_name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"keras_angular.{module_name}.{name}", obj


def test_every_public_class_and_function_has_an_example():
    missing = [name for name, obj in _public_objects() if ">>>" not in (obj.__doc__ or "")]
    assert not missing, f"no docstring example: {missing}"
