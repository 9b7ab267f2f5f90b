"""Each plot writes a real PNG; the numbers it shows come from keras_angular.metrics."""

import os
import struct

import numpy as np
import pytest

from keras_angular import metrics, plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(path, min_kb=8):
    assert os.path.isfile(path)
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_SIGNATURE
    assert head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    assert os.path.getsize(path) > min_kb * 1024
    return width, height


def _data(dim, num_classes=4, per_class=40, noise=0.2, seed=0):
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(num_classes, dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    y = np.repeat(np.arange(num_classes), per_class)
    x = (directions[y] + noise * rng.normal(size=(len(y), dim))) * rng.uniform(
        0.5, 4.0, size=(len(y), 1)
    )
    return x, y, directions.T


def test_plot_embedding_2d_and_3d(tmp_path):
    x, y, w = _data(2)
    path = plots.plot_embedding(x, y, tmp_path / "sub" / "emb2.png", kernel=w)
    assert path == str(tmp_path / "sub" / "emb2.png")
    width, height = _png_size(path)
    assert width > 300 and height > 300
    _png_size(plots.plot_embedding(x, y, tmp_path / "emb2n.png", normalize=True))
    x3, y3, w3 = _data(3, num_classes=5)
    _png_size(plots.plot_embedding(x3, y3, tmp_path / "emb3.png", kernel=w3), min_kb=20)
    with pytest.raises(ValueError, match="plot_tsne"):
        plots.plot_embedding(np.ones((5, 4)), [0] * 5, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="unit sphere"):
        plots.plot_embedding(x3, y3, tmp_path / "bad.png", normalize=False)


def test_plot_tsne(tmp_path):
    x, y, _ = _data(16, num_classes=5, per_class=40)
    _png_size(
        plots.plot_tsne(
            x,
            y,
            tmp_path / "tsne.png",
            max_points=150,
            tsne_kwargs={"max_iter": 250, "method": "exact"},
        )
    )


def test_plot_pair_angle_histograms(tmp_path, monkeypatch):
    x, y, _ = _data(8)
    calls = []
    original = metrics.angle_histogram_divergence

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(metrics, "angle_histogram_divergence", spy)
    _png_size(plots.plot_pair_angle_histograms(x, y, tmp_path / "pairs.png", title="test"))
    assert calls  # the title's numbers come from the metrics module


def test_plot_class_mean_angles(tmp_path):
    x, y, w = _data(6, num_classes=5)
    w = np.concatenate([w, np.ones((6, 1))], axis=1)  # class 5 has no sample: empty bar
    _png_size(plots.plot_class_mean_angles(x, y, w, tmp_path / "cma.png"))


def test_plot_cosine_similarity(tmp_path):
    x, y, _ = _data(8, num_classes=6)
    _png_size(plots.plot_cosine_similarity(x, y, tmp_path / "cos.png", samples_per_class=10))


def test_plot_kl_emd_scatter(tmp_path):
    results = []
    for i, noise in enumerate((0.1, 0.3, 0.6)):
        for group in ("ArcFace", "HASeparator"):
            x, y, _ = _data(8, noise=noise, seed=i)
            d = metrics.pair_angle_divergence(x, y)
            results.append({**d, "label": f"noise={noise}", "group": group})
    _png_size(plots.plot_kl_emd_scatter(results, tmp_path / "scatter.png"))
    ungrouped = [{"kl": 1.0, "emd": 10.0, "label": "a"}, {"kl": 2.0, "emd": 30.0}]
    _png_size(plots.plot_kl_emd_scatter(ungrouped, tmp_path / "scatter2.png"), min_kb=4)
    with pytest.raises(ValueError, match="empty"):
        plots.plot_kl_emd_scatter([], tmp_path / "bad.png")
    with pytest.raises(ValueError, match="emd"):
        plots.plot_kl_emd_scatter([{"kl": 1.0}], tmp_path / "bad.png")
