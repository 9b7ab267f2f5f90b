"""Embeddings for TensorBoard's Embedding Projector: vectors, metadata and a sprite of the images.

[`write_projector`][keras_angular.projector.write_projector] writes a folder that TensorBoard's
projector reads as it is (``tensorboard --logdir FOLDER``, then the "Projector" tab), without
TensorBoard or its Python plugin at run time:

* ``tensors.tsv`` - one embedding per line, tab-separated, 6 significant digits;
* ``tensors_unit.tsv`` - the same rows scaled to unit L2 norm
  ([`keras_angular.conventions.l2_normalize`][]): the hypersphere the angular losses train on
  and their papers draw (AMC-Loss Fig. 4, the Angular loss's Fig. 8), where cosine distances
  are the angles the losses act on (``unit_sphere=False`` leaves it out);
* ``metadata.tsv`` - a header, then per point its row in the arrays given (``index``), its
  ``label`` and, with ``class_names``, its ``class`` (colour or search by either);
* ``sprite.png`` - with ``images``, a square grid of thumbnails in the points' order, at most
  [`THUMBNAIL_SIZE`][keras_angular.projector.THUMBNAIL_SIZE] pixels a side (and at most
  [`MAX_SPRITE_SIZE`][keras_angular.projector.MAX_SPRITE_SIZE] for the whole grid, the largest
  sprite the projector shows), grey or RGB as the images are;
* ``projector_config.pbtxt`` - the ``ProjectorConfig`` text (TensorBoard's
  ``projector_config.proto``) naming them: ``tensor_path``, ``metadata_path``, ``tensor_shape``
  and the sprite's ``image_path`` and ``single_image_dim`` (width, height), all relative to the
  folder.

Several models' embeddings of the same images (a mapping name -> array) share one metadata
file and one sprite, each model its own tensors (``tensors_NAME.tsv``), so the projector's
drop-down switches between them on the same points.

Pixels: integer images are first scaled to [0, 1] one by one as the package loads them (8-bit
ones divided by 255); images whose values all lie in [0, 1] (the package's ``standardize=None``)
are then shown as they are, and standardized ones (``"channel"`` or ``"image"``, values outside
[0, 1]) are rescaled per image from their minimum to their maximum, as
[`keras_angular.explain`][]'s figures show them. Thumbnails larger than the limit shrink by area
averaging.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping

import numpy as np
from PIL import Image

from keras_angular.checks import check_int
from keras_angular.conventions import l2_normalize
from keras_angular.data.preprocessing import stretch_to_unit, to_unit_float, with_channel
from keras_angular.data.subsampling import split_indices
from keras_angular.features import checked_features, class_indices

__all__ = [
    "CONFIG_FILENAME",
    "DEFAULT_MAX_POINTS",
    "MAX_SPRITE_SIZE",
    "THUMBNAIL_SIZE",
    "write_projector",
]

CONFIG_FILENAME = "projector_config.pbtxt"
"""The file TensorBoard's projector looks for in the log folder."""

DEFAULT_MAX_POINTS = 10_000
"""Points written unless ``max_points`` says otherwise: the projector runs t-SNE and UMAP on at
most 10,000 points of a tensor (TensorBoard 2.21), and the tensors' text files grow with every
row."""

THUMBNAIL_SIZE = 32
"""The longest side of a sprite thumbnail, in pixels (smaller images keep their size)."""

MAX_SPRITE_SIZE = 8192
"""The largest sprite side, in pixels, that the projector shows; thumbnails shrink to fit."""

_DIGITS = "%.6g"
_OWNER = "write_projector"


def write_projector(
    folder,
    embeddings,
    labels,
    *,
    images=None,
    class_names=None,
    max_points=DEFAULT_MAX_POINTS,
    seed=0,
    unit_sphere=True,
    thumbnail_size=THUMBNAIL_SIZE,
):
    """Write ``embeddings`` of labelled points (and their ``images``) for TensorBoard's projector.

    Args:
        folder: where to write (created); then ``tensorboard --logdir folder``.
        embeddings: ``(N, D)`` array, or a mapping ``name -> (N, D)`` array for several
            models' embeddings of the same N points.
        labels: ``(N,)`` integer class indices (the package's label policy).
        images: ``(N, H, W)``, ``(N, H, W, 1)`` or ``(N, H, W, 3)`` images of the points, for the
            sprite; None writes no sprite.
        class_names: names indexed by label, for the metadata's ``class`` column.
        max_points: at most this many points, drawn seeded and class-stratified (every class
            keeps its share); None writes all.
        seed: the seed of that draw.
        unit_sphere: also write each embedding scaled to unit L2 norm, as a second tensor.
        thumbnail_size: the longest side of a sprite thumbnail, in pixels.

    Returns:
        ``folder``, as a string.

    Raises:
        ValueError: in one sentence, for arrays of different lengths, NaN or infinite
            embeddings, labels that are not class indices, too few class names, images of
            another shape, or a bad ``max_points`` / ``thumbnail_size``.

    Examples:
        >>> import tempfile
        >>> rng = np.random.default_rng(0)
        >>> folder = write_projector(tempfile.mkdtemp(), rng.normal(size=(6, 3)), [0, 1, 2] * 2,
        ...                          images=rng.uniform(size=(6, 8, 8)), class_names="abc")
        >>> sorted(os.listdir(folder))
        ['metadata.tsv', 'projector_config.pbtxt', 'sprite.png', 'tensors.tsv', 'tensors_unit.tsv']
        >>> open(os.path.join(folder, "metadata.tsv")).read().splitlines()[:2]
        ['index\\tlabel\\tclass', '0\\t0\\ta']
    """
    named = _checked_embeddings(embeddings)
    n = len(next(iter(named.values())))
    y = _checked_labels(labels, n)
    names = _checked_class_names(class_names, y)
    pictures = None if images is None else _checked_images(images, n)
    if max_points is not None:
        check_int(_OWNER, "max_points", max_points, 1)
    check_int(_OWNER, "thumbnail_size", thumbnail_size, 1)

    rows = _drawn_rows(y, max_points, seed)
    if pictures is not None:
        grid, single = _sprite_pixels(pictures, rows, thumbnail_size)
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    _write_metadata(os.path.join(folder, "metadata.tsv"), rows, y[rows], names)
    sprite = None
    if pictures is not None:
        _write_png(os.path.join(folder, "sprite.png"), grid)
        sprite = ("sprite.png", single)
    entries = []
    for (name, x), stem in zip(named.items(), _file_stems(named), strict=True):
        tensors = [(name, stem, x[rows])]
        if unit_sphere:
            tensors.append((f"{name} (unit sphere)", f"{stem}_unit", l2_normalize(x[rows])))
        for tensor_name, file_stem, values in tensors:
            np.savetxt(os.path.join(folder, f"{file_stem}.tsv"), values, _DIGITS, "\t")
            entries.append(_config_entry(tensor_name, f"{file_stem}.tsv", values.shape, sprite))
    with open(os.path.join(folder, CONFIG_FILENAME), "w", encoding="utf-8") as f:
        f.write("".join(entries))
    return folder


def _sprite_pixels(images, rows, thumbnail_size):
    """The sprite of ``images[rows]`` (images N, H, W, C = 1 or 3): a square grid of
    ``g = ceil(sqrt(len(rows)))`` thumbnails a side, row by row, as ``(g*h, g*w)`` (grey) or
    ``(g*h, g*w, 3)`` uint8 pixels, and a thumbnail's ``(w, h)`` (the config's
    ``single_image_dim``).

    A thumbnail's longest side is at most ``thumbnail_size`` (and small enough for the grid to
    fit in ``MAX_SPRITE_SIZE``), shrunk by area averaging. Integer images are scaled to [0, 1]
    one by one as the package loads them (``to_unit_float``: 8-bit ones divided by 255);
    values in [0, 1] then map to 0..255, and if any float image of ``rows`` has values outside
    [0, 1], each is rescaled from its minimum to its maximum first. Empty cells are black.
    One image at a time: no copy of the whole array.
    """
    n, (height, width, channels) = len(rows), images.shape[1:]
    side = math.ceil(math.sqrt(n))
    longest = min(thumbnail_size, MAX_SPRITE_SIZE // side)
    if longest < 1:
        raise ValueError(
            f"{_OWNER}: {n} images do not fit in a {MAX_SPRITE_SIZE}-pixel sprite; lower "
            f"max_points."
        )
    factor = min(1.0, longest / max(height, width))
    h, w = max(1, round(height * factor)), max(1, round(width * factor))
    stretch = np.issubdtype(images.dtype, np.floating) and any(
        images[i].min() < 0.0 or images[i].max() > 1.0 for i in rows
    )
    pixels = np.zeros((side * h, side * w, channels), dtype=np.uint8)
    for cell, i in enumerate(rows):
        image = to_unit_float(images[i : i + 1])
        image = (stretch_to_unit(image) if stretch else image)[0]
        thumb = image if (h, w) == (height, width) else _shrink(image, h, w)
        r, c = divmod(cell, side)
        pixels[r * h : (r + 1) * h, c * w : (c + 1) * w] = np.rint(255 * thumb).clip(0, 255)
    return (pixels[..., 0] if channels == 1 else pixels), (w, h)


def _shrink(image, h, w):
    """``image`` (H, W, C) float32 resized to (h, w, C) by area averaging (Pillow's box
    filter, in float)."""
    channels = [
        np.asarray(Image.fromarray(image[..., k]).resize((w, h), Image.Resampling.BOX))
        for k in range(image.shape[-1])
    ]
    return np.stack(channels, axis=-1)


def _write_png(path, pixels):
    Image.fromarray(pixels).save(path)


def _checked_embeddings(embeddings):
    """``{name: (N, D) float64}``, finite, every array with the same N."""
    if isinstance(embeddings, Mapping):
        if not embeddings:
            raise ValueError(f"{_OWNER}: embeddings is an empty mapping; give at least one array.")
        named = {
            str(k): checked_features(v, f"{_OWNER}: embeddings {str(k)!r}")
            for k, v in embeddings.items()
        }
    else:
        named = {"embedding": checked_features(embeddings, f"{_OWNER}: embeddings")}
    counts = {name: len(x) for name, x in named.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"{_OWNER}: the embeddings have different numbers of rows: {counts}.")
    return named


def _checked_labels(labels, n):
    y = class_indices(labels, owner=_OWNER)
    if len(y) != n:
        raise ValueError(f"{_OWNER}: labels has {len(y)} entries but embeddings has {n} rows.")
    return y


def _checked_class_names(class_names, y):
    if class_names is None:
        return None
    names = [str(name) for name in class_names]
    if len(names) <= y.max():
        raise ValueError(
            f"{_OWNER}: class_names has {len(names)} names but the labels go up to {y.max()}."
        )
    return names


def _checked_images(images, n):
    x = with_channel(images, f"{_OWNER}: images")
    if len(x) != n:
        raise ValueError(f"{_OWNER}: images has {len(x)} images but embeddings has {n} rows.")
    if x.shape[-1] not in (1, 3):
        raise ValueError(
            f"{_OWNER}: images must have 1 (grey) or 3 (RGB) channels, got {x.shape[-1]}."
        )
    if not (x.dtype == bool or np.issubdtype(x.dtype, np.number)):
        raise ValueError(f"{_OWNER}: images must be a numeric array, got dtype {x.dtype}.")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        raise ValueError(f"{_OWNER}: images contains NaN or infinite values.")
    return x


def _drawn_rows(y, max_points, seed):
    """Sorted row indices: all rows, or a seeded class-stratified draw of ``max_points``."""
    if max_points is None or len(y) <= max_points:
        return np.arange(len(y))
    return np.sort(split_indices(y, seed, train_size=max_points)[0])


def _cell(text):
    """A metadata value on one line and in one column."""
    return re.sub(r"[\t\r\n]+", " ", text)


def _write_metadata(path, rows, labels, class_names):
    header = "index\tlabel" + ("\tclass" if class_names is not None else "")
    lines = [header]
    for row, label in zip(rows.tolist(), labels.tolist(), strict=True):
        name = f"\t{_cell(class_names[label])}" if class_names is not None else ""
        lines.append(f"{row}\t{label}{name}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _file_stems(named):
    """``tensors`` for one array; ``tensors_NAME`` (file-safe, distinct) for a mapping."""
    if len(named) == 1:
        return ["tensors"]
    stems = []
    for name in named:
        stem = "tensors_" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.") or "embedding")
        while stem in stems:
            stem += "_"
        stems.append(stem)
    return stems


def _quoted(text):
    """A string in protocol buffer text format."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _config_entry(tensor_name, tensor_path, shape, sprite):
    """One ``embeddings { ... }`` block of a ``ProjectorConfig``."""
    lines = [
        "embeddings {",
        f"  tensor_name: {_quoted(tensor_name)}",
        f"  tensor_path: {_quoted(tensor_path)}",
        f"  metadata_path: {_quoted('metadata.tsv')}",
        f"  tensor_shape: {shape[0]}",
        f"  tensor_shape: {shape[1]}",
    ]
    if sprite is not None:
        image_path, (width, height) = sprite
        lines += [
            "  sprite {",
            f"    image_path: {_quoted(image_path)}",
            f"    single_image_dim: {width}",
            f"    single_image_dim: {height}",
            "  }",
        ]
    return "\n".join(lines + ["}", ""])
