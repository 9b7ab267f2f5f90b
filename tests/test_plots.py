"""Each plot returns a Figure whose drawn data are keras_angular.metrics' numbers.

The data are read back from the figure's artists (bar heights, image arrays, scatter
offsets, line end points) and compared with the metrics module and with values worked
out by hand on small hand-made geometries.
"""

import os
import struct

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.text import Annotation

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


def _at(degrees, radius=1.0):
    """A 2-d point at ``degrees`` from the x axis."""
    t = np.radians(degrees)
    return [radius * np.cos(t), radius * np.sin(t)]


def _unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _only_axes(fig):
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(axes) == 1
    return axes[0]


def _scatters(ax):
    """``{legend label: (N, 2) offsets}`` of the scatter collections of a 2-d Axes."""
    return {c.get_label(): np.asarray(c.get_offsets()) for c in ax.collections}


def _bar_heights(patches):
    return np.array([p.get_height() for p in patches])


# --------------------------------------------------------------------------- saving


def test_save_figure_writes_the_png_and_creates_its_folder(tmp_path):
    x, y, w = _data(2)
    fig = plots.plot_embedding(x, y, kernel=w)
    path = plots.save_figure(fig, tmp_path / "sub" / "emb2.png")
    assert path == str(tmp_path / "sub" / "emb2.png")
    # the pixels of the figure as Matplotlib draws it at the documented 120 dpi, cropped
    import io

    import matplotlib.image

    drawn = io.BytesIO()
    fig.savefig(drawn, format="png", dpi=120, bbox_inches="tight")
    drawn.seek(0)
    np.testing.assert_array_equal(matplotlib.image.imread(path), matplotlib.image.imread(drawn))
    x3, y3, w3 = _data(3, num_classes=5)
    _png_size(plots.save_figure(plots.plot_embedding(x3, y3, kernel=w3), tmp_path / "e3.png"))


def test_plots_draw_into_given_axes_and_leave_pyplot_alone():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    x, y, w = _data(6, num_classes=3)
    combined = Figure(figsize=(12, 4))
    left, middle, right = combined.subplots(1, 3)
    assert plots.plot_class_mean_angles(x, y, w, ax=left) is combined
    assert plots.plot_cosine_similarity(x, y, ax=middle) is combined
    assert plots.plot_kl_emd_scatter([{"kl": 1.0, "emd": 5.0}], ax=right) is combined
    assert len(left.patches) == 3 and len(middle.images) == 1 and len(right.collections) == 1
    with pytest.raises(ValueError, match="3d"):
        plots.plot_embedding_3d(_data(3)[0], _data(3)[1], ax=combined.add_subplot(2, 2, 1))
    # Stand-alone figures, one per call, none of them registered with pyplot.
    figures = [
        plots.plot_embedding(x[:, :2], y),
        plots.plot_embedding(x[:, :3], y),
        plots.plot_pair_angle_histograms(x, y, bins=12),
        plots.plot_class_mean_angles(x, y, w),
        plots.plot_cosine_similarity(x, y),
        plots.plot_kl_emd_scatter([{"kl": 1.0, "emd": 5.0}]),
    ]
    assert all(isinstance(f, Figure) for f in figures)
    assert len({id(f) for f in figures}) == len(figures)
    assert plt.get_fignums() == before


# --------------------------------------------------------------------------- embeddings

# Class 0 at (2, 0) and (0, 2): mean (1, 1), direction 45 degrees; class 1 at (-1, 0) and
# (-3, 0): direction 180; class 2 at (0, -1) and (0.5, -1): mean (0.25, -1). Interleaved.
X2 = np.array([[-1.0, 0.0], [2.0, 0.0], [0.0, -1.0], [0.0, 2.0], [-3.0, 0.0], [0.5, -1.0]])
Y2 = np.array([1, 0, 2, 0, 1, 2])
MEAN_DIRECTIONS_2D = _unit([[1.0, 1.0], [-1.0, 0.0], [0.25, -1.0]])
W2 = np.array([[1.0, 0.0, 3.0], [1.0, -2.0, -1.0]])  # columns (1, 1), (0, -2), (3, -1)


def _rays(ax, color):
    """End points of the 2-point lines from the origin drawn in ``color``."""
    ends = []
    for line in ax.lines:
        xs, ys = line.get_data()
        if len(xs) == 2 and xs[0] == 0 and ys[0] == 0 and to_rgba(line.get_color()) == color:
            ends.append([xs[1], ys[1]])
    return np.array(ends)


def test_plot_embedding_2d_draws_each_class_its_points_and_mean_direction():
    names = ["zero", "one", "two"]
    fig = plots.plot_embedding(X2, Y2, kernel=W2, class_names=names)
    ax = _only_axes(fig)
    points = _scatters(ax)
    assert list(points) == names
    extent = 3.0 * 1.08  # the largest |coordinate|, plus 8 %
    centers, present = metrics.class_centers(X2, Y2)
    assert present.all()
    np.testing.assert_allclose(_unit(centers), MEAN_DIRECTIONS_2D, atol=1e-12)
    for c, (name, collection) in enumerate(zip(names, ax.collections, strict=True)):
        np.testing.assert_array_equal(points[name], X2[Y2 == c])
        ray = _rays(ax, tuple(collection.get_facecolor()[0][:3]) + (1.0,))
        assert len(ray) == 1, f"class {c}: one ray in the class colour"
        np.testing.assert_allclose(ray[0], 0.95 * extent * MEAN_DIRECTIONS_2D[c], atol=1e-12)
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    tips = np.array([a.xy for a in arrows])
    np.testing.assert_allclose(tips, 0.9 * extent * _unit(W2.T), atol=1e-12)
    labels = sorted(t.get_text() for t in ax.texts if not isinstance(t, Annotation))
    assert labels == ["$w_{0}$", "$w_{1}$", "$w_{2}$"]
    assert ax.get_xlim() == pytest.approx((-extent, extent))


def test_plot_embedding_2d_normalized_draws_unit_points_and_unit_rays():
    ax = _only_axes(plots.plot_embedding_2d(X2, Y2, normalize=True))
    points = _scatters(ax)
    np.testing.assert_allclose(points["0"], [[1.0, 0.0], [0.0, 1.0]], atol=1e-12)
    np.testing.assert_allclose(points["1"], [[-1.0, 0.0], [-1.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(points["2"], _unit([[0.0, -1.0], [0.5, -1.0]]), atol=1e-12)
    for c, collection in enumerate(ax.collections):
        ray = _rays(ax, tuple(collection.get_facecolor()[0][:3]) + (1.0,))
        np.testing.assert_allclose(ray, [MEAN_DIRECTIONS_2D[c]], atol=1e-12)
    circle = [line for line in ax.lines if len(line.get_xdata()) == 361]
    assert len(circle) == 1
    np.testing.assert_allclose(np.hypot(*circle[0].get_data()), 1.0, atol=1e-12)
    assert not ax.texts  # no kernel, no arrows


def test_plot_embedding_subsamples_and_rejects_other_dimensions():
    x, y, _ = _data(2, num_classes=4, per_class=50)
    ax = _only_axes(plots.plot_embedding(x, y, max_points=30, seed=3))
    drawn = np.concatenate(list(_scatters(ax).values()))
    assert len(drawn) == 30
    rows = {tuple(r) for r in x}
    assert all(tuple(r) in rows for r in drawn)  # a subset of the features, not new points
    x3, y3, _ = _data(3)
    with pytest.raises(ValueError, match="plot_tsne"):
        plots.plot_embedding(np.ones((5, 4)), [0] * 5)
    with pytest.raises(ValueError, match="unit sphere"):
        plots.plot_embedding(x3, y3, normalize=False)
    with pytest.raises(ValueError, match="2-d"):
        plots.plot_embedding_2d(x3, y3)


def test_plot_embedding_3d_draws_unit_features_and_weight_directions():
    x = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, -0.5], [1.0, 2.0, 2.0], [0.0, 4.0, 0.0]])
    y = np.array([0, 1, 0, 1])
    w = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # columns (2, 0, 0), (0, 1, 1)
    fig = plots.plot_embedding(x, y, kernel=w, class_names=["a", "b"])
    ax = _only_axes(fig)
    assert ax.name == "3d"
    clouds = {c.get_label(): np.column_stack(c._offsets3d) for c in ax.collections[1:]}
    np.testing.assert_allclose(clouds["a"], [[1.0, 0.0, 0.0], [1 / 3, 2 / 3, 2 / 3]], atol=1e-12)
    np.testing.assert_allclose(clouds["b"], [[0.0, 0.0, -1.0], [0.0, 1.0, 0.0]], atol=1e-12)
    segments = np.array([np.column_stack(line.get_data_3d()) for line in ax.lines])
    np.testing.assert_allclose(segments[:, 0], 0.0)
    expected_tips = 1.25 * np.array([[1.0, 0.0, 0.0], [0.0, 2**-0.5, 2**-0.5]])
    np.testing.assert_allclose(segments[:, 1], expected_tips, atol=1e-12)


def test_plot_tsne_draws_the_tsne_map_of_the_unit_features():
    from sklearn.manifold import TSNE

    x, y, _ = _data(16, num_classes=4, per_class=15)
    options = {"max_iter": 250, "method": "exact"}
    fig = plots.plot_tsne(x, y, seed=2, tsne_kwargs=options, class_names=list("abcd"))
    points = _scatters(_only_axes(fig))
    assert list(points) == list("abcd")
    expected = TSNE(
        n_components=2, perplexity=min(30.0, 59 / 3), init="pca", random_state=2, **options
    ).fit_transform(_unit(x))
    for c, name in enumerate("abcd"):
        np.testing.assert_allclose(points[name], expected[y == c], rtol=1e-6, atol=1e-6)
    # The seed picks the subset (and seeds t-SNE): same seed, same map; another, another.
    maps = [
        np.concatenate(list(_scatters(_only_axes(fig)).values()))
        for fig in (
            plots.plot_tsne(x, y, seed=seed, max_points=40, tsne_kwargs=options)
            for seed in (1, 1, 3)
        )
    ]
    assert all(len(m) == 40 for m in maps)
    np.testing.assert_array_equal(maps[0], maps[1])
    assert not np.allclose(maps[0], maps[2])
    with pytest.raises(ValueError, match="at least 4"):
        plots.plot_tsne(x[:3], y[:3])


# --------------------------------------------------------------------------- pair angles


def test_plot_pair_angle_histograms_draws_the_metrics_histograms():
    # Class 0 at 0 and 14 degrees, class 1 at 93 and 108, various radii. Positive pairs:
    # 14, 15 degrees (10-degree bin 1). Negative: 93, 108, 79, 94 (bins 9, 10, 7, 9).
    x = np.array([_at(0, 2.0), _at(93, 0.5), _at(14, 1.0), _at(108, 3.0)])
    y = np.array([0, 1, 0, 1])
    ax = _only_axes(plots.plot_pair_angle_histograms(x, y, bins=18))
    assert len(ax.patches) == 36
    positive, negative = ax.patches[:18], ax.patches[18:]
    p_hand = np.zeros(18)
    p_hand[1] = 1.0
    q_hand = np.zeros(18)
    q_hand[[7, 9, 10]] = [0.25, 0.5, 0.25]
    pos, neg = metrics.pair_angles(x, y)
    edges, p, q = metrics.pair_angle_histograms(pos, neg, bins=18)
    np.testing.assert_allclose(p, p_hand)
    np.testing.assert_allclose(q, q_hand)
    np.testing.assert_allclose(_bar_heights(positive), p_hand)
    np.testing.assert_allclose(_bar_heights(negative), q_hand)
    for bars in (positive, negative):
        np.testing.assert_allclose([b.get_x() for b in bars], edges[:-1])
        np.testing.assert_allclose([b.get_width() for b in bars], 10.0)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["positive pairs (2)", "negative pairs (4)"]
    div = metrics.angle_histogram_divergence(pos, neg, bins=18)
    # Every positive angle lies below every negative one: D_EM = mean(neg) - mean(pos).
    assert div["emd"] == pytest.approx((79 + 93 + 94 + 108) / 4 - (14 + 15) / 2)
    title = ax.get_title()
    assert f"{div['kl']:.3f}" in title and f"{div['emd']:.2f}" in title


def test_plot_pair_angle_histograms_passes_its_pair_sampling_on():
    x, y, _ = _data(8, per_class=30)
    ax = _only_axes(plots.plot_pair_angle_histograms(x, y, bins=30, max_pairs=500, seed=4))
    pos, neg = metrics.pair_angles(x, y, max_pairs=500, seed=4)
    assert len(pos) + len(neg) == 500
    _, p, q = metrics.pair_angle_histograms(pos, neg, bins=30)
    np.testing.assert_allclose(_bar_heights(ax.patches[:30]), p)
    np.testing.assert_allclose(_bar_heights(ax.patches[30:]), q)


# --------------------------------------------------------------------------- class mean angles


def test_plot_class_mean_angles_bars_are_the_metrics_mean_angles_in_degrees():
    # Weights (columns): w0 = 2 e_x, w1 = 3 e_y, w2 = (1, 1, 0) with no sample, w3 = e_z.
    kernel = np.array([[2.0, 0.0, 1.0, 0.0], [0.0, 3.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    t = np.radians
    x = np.array(
        [
            [5 * np.cos(t(10)), 5 * np.sin(t(10)), 0.0],  # class 0: 10 degrees from w0
            [0.0, np.cos(t(45)), np.sin(t(45))],  # class 1: 45 from w1
            [0.5 * np.cos(t(30)), 0.0, 0.5 * np.sin(t(30))],  # class 0: 30 from w0
            [np.sin(t(60)), np.cos(t(60)), 0.0],  # class 1: 60 from w1
            [0.0, np.sin(t(80)), np.cos(t(80))],  # class 3: 80 from w3
        ]
    )
    y = np.array([0, 1, 0, 1, 3])
    hand = np.array([20.0, 52.5, np.nan, 80.0])
    theta = np.degrees(metrics.class_mean_angles(x, y, kernel))
    np.testing.assert_allclose(theta, hand, atol=1e-9)

    names = ["w", "x", "y", "z"]
    ax = _only_axes(plots.plot_class_mean_angles(x, y, kernel, class_names=names))
    assert len(ax.patches) == 4
    np.testing.assert_allclose(_bar_heights(ax.patches), [20.0, 52.5, 0.0, 80.0], atol=1e-9)
    np.testing.assert_allclose([b.get_x() + b.get_width() / 2 for b in ax.patches], range(4))
    values = [(t.get_position()[0], t.get_text()) for t in ax.texts]
    assert values == [(0.0, "20.0"), (1.0, "52.5"), (3.0, "80.0")]  # none for empty class 2
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert ax.get_ylim()[1] == pytest.approx(80.0 * 1.15)


# --------------------------------------------------------------------------- cosine similarity


def test_plot_cosine_similarity_image_is_the_class_sorted_matrix():
    # Labels interleaved; angles (degrees) and radii chosen by hand. Sorted by class the
    # rows are at 10, 40 | 100, 130 | 200, 250 degrees, and CM_ij = cos(a_i - a_j).
    angles = [200, 10, 100, 40, 250, 130]
    x = np.array([_at(a, r) for a, r in zip(angles, [1, 2, 0.5, 3, 1, 4], strict=True)])
    y = np.array([2, 0, 1, 0, 2, 1])
    sorted_angles = np.radians([10, 40, 100, 130, 200, 250])
    hand = np.cos(sorted_angles[:, None] - sorted_angles[None, :])
    cm, sorted_labels = metrics.cosine_similarity_matrix(x, y)
    np.testing.assert_allclose(cm, hand, atol=1e-12)
    np.testing.assert_array_equal(sorted_labels, [0, 0, 1, 1, 2, 2])

    names = ["a", "b", "c"]
    fig = plots.plot_cosine_similarity(x, y, samples_per_class=None, class_names=names)
    ax = _only_axes(fig)
    (image,) = ax.images
    np.testing.assert_allclose(np.asarray(image.get_array()), hand, atol=1e-12)
    # Row i drawn at y = i from the top, column j at x = j; fixed [-1, 1] colour scale.
    assert image.get_extent() == pytest.approx((-0.5, 5.5, 5.5, -0.5))
    assert image.get_clim() == (-1.0, 1.0)
    # Block boundaries between the classes, one horizontal and one vertical line each.
    horizontal = sorted(line.get_ydata()[0] for line in ax.lines if line.get_ydata()[0] > 0)
    vertical = sorted(line.get_xdata()[0] for line in ax.lines if line.get_xdata()[0] > 0)
    assert horizontal == [1.5, 3.5] and vertical == [1.5, 3.5]
    for ticks, labels in (
        (ax.get_xticks(), ax.get_xticklabels()),
        (ax.get_yticks(), ax.get_yticklabels()),
    ):
        np.testing.assert_allclose(ticks, [0.5, 2.5, 4.5])
        assert [t.get_text() for t in labels] == names


def test_plot_cosine_similarity_samples_each_class_as_the_metric_does():
    x, y, _ = _data(8, num_classes=6)
    ax = _only_axes(plots.plot_cosine_similarity(x, y, samples_per_class=4, seed=5))
    cm, _ = metrics.cosine_similarity_matrix(x, y, samples_per_class=4, seed=5)
    assert cm.shape == (24, 24)
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), cm)


# --------------------------------------------------------------------------- KL vs EMD


def test_plot_kl_emd_scatter_draws_each_group_at_its_kl_and_emd():
    results = []
    for i, noise in enumerate((0.1, 0.3, 0.6)):
        for group in ("ArcFace", "HASeparator"):
            x, y, _ = _data(8, noise=noise, seed=i + (group == "ArcFace"))
            d = metrics.pair_angle_divergence(x, y)
            results.append({**d, "label": f"noise={noise}", "group": group})
    ax = _only_axes(plots.plot_kl_emd_scatter(results))
    points = _scatters(ax)
    assert list(points) == ["ArcFace", "HASeparator"]
    for group, xy in points.items():
        expected = [[r["kl"], r["emd"]] for r in results if r["group"] == group]
        np.testing.assert_allclose(xy, expected)
    notes = [(t.get_text(), tuple(t.xy)) for t in ax.texts]
    assert sorted(notes) == sorted((r["label"], (r["kl"], r["emd"])) for r in results)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ArcFace", "HASeparator"]


def test_plot_kl_emd_scatter_ungrouped_and_bad_input():
    ungrouped = [{"kl": 1.0, "emd": 10.0, "label": "a"}, {"kl": 2.0, "emd": 30.0}]
    ax = _only_axes(plots.plot_kl_emd_scatter(ungrouped, annotate=True))
    assert len(ax.collections) == 1 and ax.get_legend() is None
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[1.0, 10.0], [2.0, 30.0]])
    assert [(t.get_text(), tuple(t.xy)) for t in ax.texts] == [("a", (1.0, 10.0))]
    assert not _only_axes(plots.plot_kl_emd_scatter(ungrouped, annotate=False)).texts
    with pytest.raises(ValueError, match="empty"):
        plots.plot_kl_emd_scatter([])
    with pytest.raises(ValueError, match="emd"):
        plots.plot_kl_emd_scatter([{"kl": 1.0}])


def test_plot_kl_emd_scatter_labels_cover_no_marker_no_label_and_stay_inside_the_axes():
    # the README's digits comparison: haseparator and wsoftmax nearly on one spot, and
    # wsoftmax's label once sat under haseparator's marker and past the right axis
    points = {
        "softmax": (5.802, 46.45),
        "amc": (5.759, 44.44),
        "arc": (12.328, 61.82),
        "haseparator": (12.352, 69.45),
        "wsoftmax": (12.113, 68.69),
    }
    fig = plots.plot_kl_emd_scatter(
        [{"kl": kl, "emd": emd, "label": name} for name, (kl, emd) in points.items()]
    )
    ax = _only_axes(fig)
    fig.canvas.draw()
    # each marker's box in display space, from its data point and size (s = area in pt^2)
    size = float(ax.collections[0].get_sizes()[0])
    radius = 0.5 * np.sqrt(size) * fig.dpi / 72.0
    centres = ax.transData.transform(np.array(list(points.values())))
    frame = ax.get_window_extent()
    boxes = {text.get_text(): text.get_window_extent() for text in ax.texts}
    assert sorted(boxes) == sorted(points)

    def apart(box, x0, y0, x1, y1):
        return box.x1 <= x0 or box.x0 >= x1 or box.y1 <= y0 or box.y0 >= y1

    for name, box in boxes.items():
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, name
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, name
        for x, y in centres:
            assert apart(box, x - radius, y - radius, x + radius, y + radius), name
        for other, other_box in boxes.items():
            if other != name:
                assert apart(box, other_box.x0, other_box.y0, other_box.x1, other_box.y1)
