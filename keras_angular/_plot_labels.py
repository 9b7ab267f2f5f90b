"""Labels beside scatter points that cover no marker, no other label and no axis line.

Used by [`keras_angular.plots.plot_kl_emd_scatter`][]; Matplotlib only.
"""

import numpy as np

# Where a label may sit around its point: (dx, dy) in points, horizontal and vertical alignment.
_LABEL_PLACES = (
    (5, 4, "left", "bottom"),
    (5, -4, "left", "top"),
    (-5, 4, "right", "bottom"),
    (-5, -4, "right", "top"),
    (0, 7, "center", "bottom"),
    (0, -7, "center", "top"),
)


def overlap(a, b):
    """Area shared by two display-space Bboxes (0 when apart)."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)


def place_labels(ax, points, labels, marker_size):
    """Annotate each point at the first of ``_LABEL_PLACES`` whose text covers no marker and
    no earlier label and stays inside the axes (else at the place that overlaps least)."""
    from matplotlib.transforms import Bbox

    radius = 0.5 * np.sqrt(marker_size) * ax.get_figure(root=True).dpi / 72.0 + 1.0
    markers = [
        Bbox.from_extents(x - radius, y - radius, x + radius, y + radius)
        for x, y in ax.transData.transform(points)
    ]
    frame = ax.get_window_extent()
    taken, texts = [], []
    for point, label in zip(points, labels, strict=True):
        best = None
        for dx, dy, ha, va in _LABEL_PLACES:
            text = ax.annotate(
                label, point, textcoords="offset points", xytext=(dx, dy), ha=ha, va=va, fontsize=7
            )
            box = text.get_window_extent()
            cost = sum(overlap(box, other) for other in markers + taken)
            cost += box.width * box.height - overlap(box, frame)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, text, box)
            else:
                text.remove()
            if cost == 0:
                break
        taken.append(best[2])
        texts.append(best[1])
    return texts


def label_points(ax, points, labels, marker_size):
    """Label the points without covering a marker or another label, the axes' limits widened
    until every label lies inside them; returns the annotations, in the points' order.

    Examples:
        >>> from matplotlib.figure import Figure
        >>> ax = Figure().add_subplot()
        >>> points = np.array([[0.0, 0.0], [1.0, 1.0]])
        >>> _ = ax.scatter(points[:, 0], points[:, 1], s=40)
        >>> texts = label_points(ax, points, ["corner", "opposite corner"], 40)
        >>> frame, boxes = ax.get_window_extent(), [t.get_window_extent() for t in texts]
        >>> [t.get_text() for t in texts], all(
        ...     frame.contains(*box.p0) and frame.contains(*box.p1) for box in boxes)
        (['corner', 'opposite corner'], True)
    """
    ax.autoscale_view()
    for _ in range(5):
        texts = place_labels(ax, points, labels, marker_size)
        frame = ax.get_window_extent()
        boxes = [text.get_window_extent() for text in texts]
        low = np.array([frame.x0 - min(b.x0 for b in boxes), frame.y0 - min(b.y0 for b in boxes)])
        high = np.array([max(b.x1 for b in boxes) - frame.x1, max(b.y1 for b in boxes) - frame.y1])
        if np.all(low <= 0) and np.all(high <= 0):
            return texts
        for text in texts:
            text.remove()
        pad = 2.0  # pixels of air between a label and the frame
        to_data = ax.transData.inverted()
        (x0, y0), (x1, y1) = to_data.transform(
            [
                [frame.x0 - max(low[0] + pad, 0), frame.y0 - max(low[1] + pad, 0)],
                [frame.x1 + max(high[0] + pad, 0), frame.y1 + max(high[1] + pad, 0)],
            ]
        )
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    return place_labels(ax, points, labels, marker_size)
