"""The papers' feature-geometry figures, as Matplotlib Figures.

Each function draws one figure with Matplotlib's object-oriented API
(``matplotlib.figure.Figure``; ``pyplot`` and the global backend are never
touched, so it is safe in notebooks, servers and tests) and returns the
``Figure``: show it, change it, or write it with [`save_figure`][keras_angular.plots.save_figure].
Pass ``ax=`` (an Axes of a figure of your own, 3-d for
[`plot_embedding_3d`][keras_angular.plots.plot_embedding_3d]) to draw into it instead, e.g. to put
several of them side by side; the function then returns that Axes' figure. All the numbers come from
[`keras_angular.metrics`][]; nothing here recomputes them.

* [`plot_embedding`][keras_angular.plots.plot_embedding] - 2-d or 3-d features, dispatching on the
  dimension to [`plot_embedding_2d`][keras_angular.plots.plot_embedding_2d] (raw features in the
  plane with the class directions, AMC-Loss Fig. 1) or
  [`plot_embedding_3d`][keras_angular.plots.plot_embedding_3d] (unit features on the sphere,
  AMC-Loss Fig. 4);
* [`plot_tsne`][keras_angular.plots.plot_tsne] - a t-SNE map of high-dimensional features (AMC Fig.
  5);
* [`plot_pair_angle_histograms`][keras_angular.plots.plot_pair_angle_histograms] - positive /
  negative pair angle histograms with D_KL and D_EM in the title (HASeparator Fig. 4);
* [`plot_class_mean_angles`][keras_angular.plots.plot_class_mean_angles] - per-class mean angle to
  the class weight (W-Softmax Fig. 5);
* [`plot_cosine_similarity`][keras_angular.plots.plot_cosine_similarity] - the class-sorted
  cosine-similarity matrix (Angular paper Fig. 8, Eq. 15);
* [`plot_kl_emd_scatter`][keras_angular.plots.plot_kl_emd_scatter] - D_KL against D_EM over a
  hyper-parameter sweep (HASeparator Fig. 6);
* [`save_figure`][keras_angular.plots.save_figure] - write a figure to a file (its folder created).
"""

import os

import numpy as np
from matplotlib.figure import Figure

from keras_angular import metrics
from keras_angular._plot_labels import label_points

__all__ = [
    "plot_class_mean_angles",
    "plot_cosine_similarity",
    "plot_embedding",
    "plot_embedding_2d",
    "plot_embedding_3d",
    "plot_kl_emd_scatter",
    "plot_pair_angle_histograms",
    "plot_tsne",
    "save_figure",
]


def save_figure(fig, path, dpi=120):
    """Write ``fig`` to ``path`` (format from the extension; PNG without one),
    creating its folder, and return the path as a string.

    Examples:
        >>> import tempfile
        >>> fig = Figure()
        >>> _ = fig.add_subplot().plot([0, 1], [0, 1])
        >>> path = save_figure(fig, os.path.join(tempfile.mkdtemp(), "figures", "line.png"))
        >>> os.path.basename(path), os.path.isfile(path)
        ('line.png', True)
    """
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def _figure_and_axes(ax, figsize, projection=None):
    """A new ``Figure`` with one Axes, or the root figure of the ``ax`` given."""
    if ax is None:
        fig = Figure(figsize=figsize)
        return fig, fig.add_subplot(projection=projection)
    if projection is not None and getattr(ax, "name", None) != projection:
        raise ValueError(
            f"this figure needs a {projection!r} Axes (add_subplot(projection={projection!r})), "
            f"got a {getattr(ax, 'name', type(ax).__name__)!r} one."
        )
    return ax.get_figure(root=True), ax


def _colors(num):
    """``num`` distinct colours: tab10 up to 10 classes, then tab20, then hsv."""
    from matplotlib import colormaps

    if num <= 10:
        return [colormaps["tab10"](i) for i in range(num)]
    if num <= 20:
        return [colormaps["tab20"](i) for i in range(num)]
    return [colormaps["hsv"](i / num) for i in range(num)]


def _class_name(c, class_names):
    return str(class_names[c]) if class_names is not None else str(c)


def _subsample(n, max_points, seed):
    if max_points is None or n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=int(max_points), replace=False))


def _check_xy(features, labels):
    # Reuse the metrics' validation so plots and numbers agree on what is valid.
    centers, present = metrics.class_centers(features, labels)
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    return x, y, centers, present


def _legend(ax, num_classes):
    if num_classes <= 20:
        ax.legend(loc="best", fontsize=8, markerscale=2, framealpha=0.8)


def _unit(x):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _embedding_points(features, labels, dim, normalize, max_points, seed, caller):
    """Checked features of dimension ``dim`` (unit rows when ``normalize``), the drawn
    subset, the class centres of the raw features and the present classes."""
    x, y, centers, present = _check_xy(features, labels)
    if x.shape[1] != dim:
        raise ValueError(f"{caller} draws {dim}-d features, got {x.shape[1]}-d.")
    if normalize:
        x = _unit(x)
    keep = _subsample(len(x), max_points, seed)
    return x, x[keep], y[keep], centers, present


def _num_classes(centers, kernel):
    return max(len(centers), 0 if kernel is None else np.shape(kernel)[1])


def _weight_directions(kernel, length):
    """The class weights (columns of ``kernel``) as rows of the given length."""
    w = np.asarray(kernel, dtype=np.float64).T
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    return w / np.where(norms > 0, norms, 1.0) * length


def plot_embedding(features, labels, kernel=None, normalize=None, **kwargs):
    """2-d features in the plane or 3-d features on the unit sphere.

    Dispatches on the feature dimension: D = 2 to
    [`plot_embedding_2d`][keras_angular.plots.plot_embedding_2d], D = 3 to
    [`plot_embedding_3d`][keras_angular.plots.plot_embedding_3d] (``normalize`` must not be False
    for them); ``kwargs`` go to that function. Higher dimensions: use
    [`plot_tsne`][keras_angular.plots.plot_tsne]. Returns the ``Figure``.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> fig = plot_embedding(rng.normal(size=(20, 3)), np.arange(20) % 2)   # 3-d: the sphere
        >>> fig.axes[0].name
        '3d'
    """
    dim = int(np.shape(features)[-1]) if np.ndim(features) == 2 else None
    if dim == 2:
        return plot_embedding_2d(
            features, labels, kernel=kernel, normalize=bool(normalize), **kwargs
        )
    if dim == 3:
        if normalize is False:
            raise ValueError(
                "3-d features are drawn on the unit sphere; normalize=False is not supported "
                "for them."
            )
        return plot_embedding_3d(features, labels, kernel=kernel, **kwargs)
    raise ValueError(
        f"plot_embedding draws 2-d or 3-d features, got shape {np.shape(features)}; "
        "use plot_tsne for more."
    )


def plot_embedding_2d(
    features,
    labels,
    kernel=None,
    normalize=False,
    class_names=None,
    title=None,
    max_points=5000,
    seed=0,
    ax=None,
):
    """Scatter 2-d features in the plane (AMC-Loss Fig. 1).

    The raw features (or, with ``normalize=True``, their projections on the
    dashed unit circle), each class in its colour, with a ray from the origin
    along each class's mean direction
    ([`keras_angular.metrics.class_centers`][] of the raw features) - the
    "angular" distribution of softmax features. With ``kernel`` (2, C) the
    class weight directions are drawn as black arrows labelled ``w_c``. At
    most ``max_points`` points are drawn (a seeded random subset).

    Returns the ``Figure``.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> fig = plot_embedding_2d(rng.normal(size=(20, 2)), np.arange(20) % 2, kernel=np.eye(2))
        >>> type(fig).__name__, len(fig.axes)
        ('Figure', 1)
    """
    x, x_plot, y_plot, centers, present = _embedding_points(
        features, labels, 2, normalize, max_points, seed, "plot_embedding_2d"
    )
    colors = _colors(_num_classes(centers, kernel))
    fig, ax = _figure_and_axes(ax, (6.4, 6.0))
    extent = float(np.max(np.abs(x))) * 1.08 or 1.0
    if normalize:
        t = np.linspace(0.0, 2 * np.pi, 361)
        ax.plot(np.cos(t), np.sin(t), "--", color="0.6", lw=1, zorder=0)
    ray = 1.0 if normalize else 0.95 * extent
    for c in np.flatnonzero(present):
        pts = x_plot[y_plot == c]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=6,
            alpha=0.6,
            color=colors[c],
            label=_class_name(c, class_names),
            edgecolors="none",
        )
        direction = centers[c] / (np.linalg.norm(centers[c]) or 1.0)
        ax.plot(
            [0, ray * direction[0]], [0, ray * direction[1]], color=colors[c], lw=1.5, alpha=0.9
        )
    if kernel is not None:
        for c, wc in enumerate(_weight_directions(kernel, extent * 0.9)):
            ax.annotate(
                "",
                xy=(wc[0], wc[1]),
                xytext=(0, 0),
                arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.2},
            )
            ax.text(wc[0] * 1.04, wc[1] * 1.04, f"$w_{{{c}}}$", fontsize=8)
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xlabel("feature 1")
    ax.set_ylabel("feature 2")
    _legend(ax, len(colors))
    default = (
        "2-d features on the unit circle"
        if normalize
        else "2-d features (rays: class mean directions)"
    )
    ax.set_title(title or default)
    return fig


def plot_embedding_3d(
    features, labels, kernel=None, class_names=None, title=None, max_points=5000, seed=0, ax=None
):
    """Unit-normalised 3-d features as points on a wireframe unit sphere (AMC-Loss Fig. 4).

    Each class in its colour; with ``kernel`` (3, C) the class weight
    directions are drawn as black segments of length 1.25 labelled ``w_c``.
    At most ``max_points`` points are drawn (a seeded random subset). ``ax``
    must be a 3-d Axes. Returns the ``Figure``.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> fig = plot_embedding_3d(rng.normal(size=(20, 3)), np.arange(20) % 2)
        >>> fig.axes[0].name, fig.axes[0].get_title()
        ('3d', '3-d features on the unit sphere')
    """
    _, x_plot, y_plot, centers, present = _embedding_points(
        features, labels, 3, True, max_points, seed, "plot_embedding_3d"
    )
    colors = _colors(_num_classes(centers, kernel))
    import mpl_toolkits.mplot3d  # noqa: F401  (registers the 3-d projection)

    fig, ax = _figure_and_axes(ax, (6.4, 6.0), projection="3d")
    u, v = np.mgrid[0 : 2 * np.pi : 37j, 0 : np.pi : 19j]
    ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color="0.8", lw=0.4)
    for c in np.flatnonzero(present):
        pts = x_plot[y_plot == c]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            pts[:, 2],
            s=6,
            alpha=0.8,
            color=colors[c],
            label=_class_name(c, class_names),
            depthshade=False,
        )
    if kernel is not None:
        for c, wc in enumerate(_weight_directions(kernel, 1.25)):
            ax.plot([0, wc[0]], [0, wc[1]], [0, wc[2]], color="black", lw=1.2)
            ax.text(wc[0], wc[1], wc[2], f"$w_{{{c}}}$", fontsize=8)
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_zlim(-1, 1)
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()
    if len(colors) <= 20:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 0.9), fontsize=8, markerscale=2)
    ax.set_title(title or "3-d features on the unit sphere")
    return fig


def plot_tsne(
    features,
    labels,
    seed=0,
    max_points=2000,
    perplexity=30.0,
    normalize=True,
    class_names=None,
    title=None,
    tsne_kwargs=None,
    ax=None,
):
    """t-SNE map of the features, one colour per class (AMC-Loss Fig. 5).

    A seeded random subset of at most ``max_points`` samples (t-SNE is
    quadratic), unit-normalised first when ``normalize`` (the angular geometry
    these losses shape), embedded in 2-d by ``sklearn.manifold.TSNE`` with PCA
    initialisation and ``random_state=seed``. ``perplexity`` is lowered to
    ``(n - 1) / 3`` for small subsets; ``tsne_kwargs`` go to ``TSNE`` (e.g.
    ``{"max_iter": 250}`` for a quick look). Returns the ``Figure``.

    Examples:
        >>> features, labels = np.random.default_rng(0).normal(size=(20, 8)), np.arange(20) % 2
        >>> fig = plot_tsne(features, labels, tsne_kwargs={"max_iter": 250, "method": "exact"})
        >>> fig.axes[0].get_title(), len(fig.axes[0].collections)   # one scatter per class
        ('t-SNE of 20 features', 2)
    """
    from sklearn.manifold import TSNE

    x, y, _, present = _check_xy(features, labels)
    keep = _subsample(len(x), max_points, seed)
    x, y = x[keep], y[keep]
    if len(x) < 4:
        raise ValueError(f"t-SNE needs at least 4 samples, got {len(x)}.")
    if normalize:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    perplexity = min(float(perplexity), (len(x) - 1) / 3.0)
    options = {"perplexity": perplexity, "init": "pca", "random_state": seed}
    options.update(tsne_kwargs or {})
    xy = TSNE(n_components=2, **options).fit_transform(x)

    colors = _colors(len(present))
    fig, ax = _figure_and_axes(ax, (6.4, 6.0))
    for c in np.unique(y):
        pts = xy[y == c]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=6,
            alpha=0.7,
            color=colors[c],
            label=_class_name(c, class_names),
            edgecolors="none",
        )
    ax.set_xticks([])
    ax.set_yticks([])
    _legend(ax, len(present))
    ax.set_title(title or f"t-SNE of {len(x)} features")
    return fig


def plot_pair_angle_histograms(
    features,
    labels,
    bins=180,
    max_pairs=metrics.DEFAULT_MAX_PAIRS,
    seed=0,
    title=None,
    ax=None,
):
    """Histograms of positive and negative pair angles, D_KL and D_EM in the title.

    HASeparator Fig. 4: the angles (degrees) of same-class and different-class
    pairs ([`keras_angular.metrics.pair_angles`][]), each histogram
    normalised to sum 1 over ``bins`` bins on [0, 180]
    ([`pair_angle_histograms`][keras_angular.metrics.pair_angle_histograms]), with
    [`angle_histogram_divergence`][keras_angular.metrics.angle_histogram_divergence]'s KL and EMD.
    The first ``bins`` bars (``ax.patches``) are the positive pairs, the next
    ``bins`` the negative ones. Returns the ``Figure``.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> fig = plot_pair_angle_histograms(rng.normal(size=(20, 8)), np.arange(20) % 2, bins=18)
        >>> len(fig.axes[0].patches)   # 18 positive-pair bars, then 18 negative-pair bars
        36
    """
    pos, neg = metrics.pair_angles(features, labels, max_pairs=max_pairs, seed=seed)
    edges, p, q = metrics.pair_angle_histograms(pos, neg, bins=bins)
    div = metrics.angle_histogram_divergence(pos, neg, bins=bins)
    width = np.diff(edges)
    fig, ax = _figure_and_axes(ax, (7.0, 4.2))
    ax.bar(
        edges[:-1],
        p,
        width=width,
        align="edge",
        alpha=0.6,
        color="tab:blue",
        label=f"positive pairs ({len(pos):,})",
    )
    ax.bar(
        edges[:-1],
        q,
        width=width,
        align="edge",
        alpha=0.6,
        color="tab:orange",
        label=f"negative pairs ({len(neg):,})",
    )
    ax.set_xlim(0, 180)
    ax.set_xticks(np.arange(0, 181, 30))
    ax.set_xlabel("angle between the two features (degrees)")
    ax.set_ylabel("fraction of pairs")
    ax.legend(loc="upper right", fontsize=9)
    head = f"{title}\n" if title else ""
    ax.set_title(f"{head}$D_{{KL}}$ = {div['kl']:.3f}    $D_{{EM}}$ = {div['emd']:.2f}°")
    return fig


def plot_class_mean_angles(features, labels, kernel, class_names=None, title=None, ax=None):
    """Bars of each class's mean angle (degrees) to its class weight (W-Softmax Fig. 5).

    [`keras_angular.metrics.class_mean_angles`][] (Eq. 14), one bar per
    class, its value written above it; classes without samples get an empty
    (zero-height) bar and no value. Returns the ``Figure``.

    Examples:
        >>> features = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
        >>> fig = plot_class_mean_angles(features, np.array([0, 0, 1]), np.eye(2))
        >>> [text.get_text() for text in fig.axes[0].texts]   # class 0: (0 + 45) / 2 degrees
        ['22.5', '0.0']
    """
    theta = np.degrees(metrics.class_mean_angles(features, labels, kernel))
    classes = np.arange(len(theta))
    fig, ax = _figure_and_axes(ax, (max(5.0, 0.45 * len(theta) + 2.0), 4.0))
    heights = np.nan_to_num(theta, nan=0.0)
    bars = ax.bar(classes, heights, color="tab:blue", width=0.7)
    if len(theta) <= 30:
        for bar, value in zip(bars, theta, strict=True):
            if np.isfinite(value):
                ax.text(
                    bar.get_x() + bar.get_width() / 2,
                    bar.get_height(),
                    f"{value:.1f}",
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
        ax.set_xticks(classes, [_class_name(c, class_names) for c in classes])
    ax.set_xlabel("class i")
    ax.set_ylabel(r"mean angle $\bar\theta_i$ to $w_i$ (degrees)")
    top = np.nanmax(theta) if np.any(np.isfinite(theta)) else 90.0
    ax.set_ylim(0, max(top * 1.15, 1.0))
    ax.set_title(title or "Mean angle between each class's features and its weight")
    return fig


def plot_cosine_similarity(
    features, labels, samples_per_class=10, seed=0, class_names=None, title=None, ax=None
):
    """The class-sorted cosine-similarity matrix of unit features (Angular paper Fig. 8).

    ``CM_ij = x_i^T x_j`` (Eq. 15) over ``samples_per_class`` random samples
    of each class ([`keras_angular.metrics.cosine_similarity_matrix`][]);
    blocks on the diagonal are the classes, the colour scale is fixed to
    [-1, 1]; row i of the matrix is drawn at height i, counted from the top.
    Returns the ``Figure``.

    Examples:
        >>> features, labels = np.random.default_rng(0).normal(size=(20, 8)), np.arange(20) % 2
        >>> fig = plot_cosine_similarity(features, labels, samples_per_class=3)
        >>> fig.axes[0].get_title(), len(fig.axes)   # the matrix and its colour bar
        ('Cosine similarity of unit features (6 samples)', 2)
    """
    cm, sorted_labels = metrics.cosine_similarity_matrix(
        features, labels, samples_per_class=samples_per_class, seed=seed
    )
    fig, ax = _figure_and_axes(ax, (6.4, 5.6))
    image = ax.imshow(cm, cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="cosine similarity")
    classes, starts, counts = np.unique(sorted_labels, return_index=True, return_counts=True)
    for start in starts[1:]:
        ax.axhline(start - 0.5, color="black", lw=0.4)
        ax.axvline(start - 0.5, color="black", lw=0.4)
    if len(classes) <= 30:
        centers = starts + (counts - 1) / 2.0
        names = [_class_name(c, class_names) for c in classes]
        ax.set_xticks(centers, names, fontsize=8)
        ax.set_yticks(centers, names, fontsize=8)
    ax.set_xlabel("sample (sorted by class)")
    ax.set_ylabel("sample (sorted by class)")
    ax.set_title(title or f"Cosine similarity of unit features ({len(cm)} samples)")
    return fig


_KL_EMD_MARKER_SIZE = 40  # points squared, as scatter's s


def plot_kl_emd_scatter(results, title=None, annotate=True, ax=None):
    """D_KL (x) against D_EM (y) over a hyper-parameter sweep (HASeparator Fig. 6).

    ``results`` is a list of dicts with ``"kl"``, ``"emd"`` (e.g. from
    [`keras_angular.metrics.pair_angle_divergence`][]) and ``"label"`` (the
    configuration, e.g. ``"s=3, m=0.9"``), and optionally ``"group"`` (the
    method, e.g. ``"ArcFace"``, one colour and marker each). The upper right
    is better on both axes. Returns the ``Figure``.

    Examples:
        >>> results = [
        ...     {"kl": 1.0, "emd": 20.0, "label": "m=0.3"},
        ...     {"kl": 2.0, "emd": 30.0, "label": "m=0.5"},
        ... ]
        >>> fig = plot_kl_emd_scatter(results)
        >>> [text.get_text() for text in fig.axes[0].texts]   # each point annotated
        ['m=0.3', 'm=0.5']
    """
    results = list(results)
    if not results:
        raise ValueError("results is empty: nothing to plot.")
    for i, r in enumerate(results):
        missing = {"kl", "emd"} - set(r)
        if missing:
            raise ValueError(f"results[{i}] lacks {sorted(missing)}: each needs 'kl' and 'emd'.")
        if not (np.isfinite(float(r["kl"])) and np.isfinite(float(r["emd"]))):
            raise ValueError(f"results[{i}] has a non-finite kl or emd: {r}.")
    groups = list(dict.fromkeys(str(r.get("group", "")) for r in results))
    colors = _colors(len(groups))
    markers = "osD^v<>ph*"
    fig, ax = _figure_and_axes(ax, (6.4, 4.8))
    labelled = []
    for g, group in enumerate(groups):
        members = [r for r in results if str(r.get("group", "")) == group]
        ax.scatter(
            [float(r["kl"]) for r in members],
            [float(r["emd"]) for r in members],
            s=_KL_EMD_MARKER_SIZE,
            color=colors[g],
            marker=markers[g % len(markers)],
            label=group or None,
            edgecolors="black",
            linewidths=0.5,
        )
        labelled += [r for r in members if "label" in r]
    if annotate and labelled:
        points = np.array([[float(r["kl"]), float(r["emd"])] for r in labelled])
        label_points(ax, points, [str(r["label"]) for r in labelled], _KL_EMD_MARKER_SIZE)
    ax.set_xlabel("$D_{KL}$ (positive || negative), nats")
    ax.set_ylabel("$D_{EM}$ (degrees)")
    ax.grid(True, color="0.9")
    if any(groups):
        ax.legend(loc="best", fontsize=9)
    ax.set_title(title or "Pair-angle separation: $D_{KL}$ vs $D_{EM}$")
    return fig
