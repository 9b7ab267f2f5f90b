"""W-Softmax Eq. 3-4: C equiangular unit vectors (a regular simplex) in C-1 dimensions."""

import numpy as np

__all__ = ["minimum_units", "simplex_weights"]


def _check_num_classes(num_classes):
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"the number of classes must be an integer >= 2, got {num_classes!r}.")
    return int(num_classes)


def minimum_units(num_classes):
    """W-Softmax ``M_min = C - 1``: the fewest dimensions holding C equiangular unit vectors.

    Examples:
        >>> minimum_units(10)
        9
    """
    return _check_num_classes(num_classes) - 1


def simplex_weights(num_classes):
    """W-Softmax Eq. 3: C unit vectors in C-1 dimensions with pairwise dot -1/(C-1).

    The recursion ``W_2 = [1, -1]`` and, for C > 2,
    ``W_C = [[a W_{C-1}, 0], [-1/(C-1) ... -1/(C-1), 1]]`` with
    ``a = sqrt(((C-1)^2 - 1) / (C-1)^2)``, shape (C-1, C): columns are the
    class weights (the vertices of a regular simplex) and ``W^T W`` is 1 on the
    diagonal and ``-1/(C-1)`` off it (Eq. 4).

    Examples:
        >>> w = simplex_weights(3)
        >>> w.shape, np.round(w.T @ w, 6).tolist()
        ((2, 3), [[1.0, -0.5, -0.5], [-0.5, 1.0, -0.5], [-0.5, -0.5, 1.0]])
    """
    c_max = _check_num_classes(num_classes)
    w = np.array([[1.0, -1.0]])
    for c in range(3, c_max + 1):
        k = c - 1
        a = np.sqrt((k * k - 1.0) / (k * k))
        top = np.hstack([a * w, np.zeros((k - 1, 1))])
        bottom = np.hstack([np.full((1, k), -1.0 / k), np.ones((1, 1))])
        w = np.vstack([top, bottom])
    return w
