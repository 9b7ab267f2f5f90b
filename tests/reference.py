"""Independent NumPy references for the losses and geometry of ``keras_angular``.

Written from the papers' equations (``../shared/papers/``) and the project's spec,
NOT from the package's code: the tests compare the package against these. Everything
is float64 NumPy and deliberately literal (loops, per-sample matrices, B x N x C
tensors), so a closed form in the package is checked against the paper's own form.

Every per-sample function returns an array of shape (B,); the Keras default
reduction ("sum_over_batch_size") of such values is their mean. The pair losses
(AMC, Euclidean contrastive) return the scalar the spec defines (a mean over pairs).

Sources, equation by equation:

* Softmax cross-entropy over logits ``z``: ``-log(e^{z_y} / sum_j e^{z_j})``
  (Angular paper, Wu & Wang, Eq. 1-2).
* NormFace: Angular paper Eq. 3 (unit features and weights, rescale ``s``); logits
  ``s * cos_j``.
* CosFace (additive cosine margin): logits ``s * (cos_j - m [j = y])``.
* ArcFace: Angular paper Eq. 4, ``s cos(theta_y + m)`` for the target. Where
  ``theta_y + m > pi`` the cosine is no longer monotone in theta; following the spec
  (and the ArcFace authors' code) the target logit there is ``s (cos_y - m sin m)``.
  ``easy_margin``: the margin applies only where ``cos_y > 0``.
* SphereFace (A-Softmax, normalised form): ``psi(theta) = (-1)^k cos(m theta) - 2k`` for
  ``theta in [k pi / m, (k + 1) pi / m]``, ``k = 0 .. m-1``; target logit ``s psi``.
* Angular "Arc" loss: Angular paper Eq. 7 as corrected in DESIGN.md, logits
  ``s (pi - theta_j)`` with ``theta_j = arccos(cos_j)`` (Eq. 10: dZ/dtheta = -s).
* Center loss: Angular paper Eq. 5 (Wen et al. 2016), ``1/2 ||x_i - c_{y_i}||^2`` per
  sample (times the loss weight); centre update of Wen et al. Eq. 4:
  ``delta c_j = sum_i [y_i = j](c_j - x_i) / (1 + sum_i [y_i = j])``,
  ``c_j <- c_j - alpha delta c_j``.
* HASeparator (Kansizoglou et al. Sec. III-C): Eq. 4 ``O = sigma E_hat W_hat``; Eq. 5
  the B x N x C tensor of normals built by broadcasting the gathered target weights
  ``T+`` and all weights ``W+`` - with the direction decided in DESIGN.md, ``H = T+ - W+``
  (normal ``w_target - w_j``); Eq. 6 ``P = einsum(E_hat, H_hat)`` after l2-normalising
  ``H`` over N; Eq. 7 ``J(p) = m - min(p, m)``; Eq. 8 the sum over C and the batch mean;
  total ``C_all = C_t + C_c`` (cross-entropy over ``O``). The target column (a zero
  normal) is excluded, as DESIGN.md decides.
* W-Softmax (Li & Wang): unit weights, raw features, no bias; Eq. 1
  ``w'_i = (alpha w_c + w_i) / ||alpha w_c + w_i||`` for ``i != c``; Algorithm 1 builds,
  for every sample, ``W_i = [w'_1, .., w_{y_i}, .., w'_C]`` and takes the cross-entropy
  of ``W_i^T x_i`` (Eq. 11-13).
* AMC-Loss (Choi et al.): Eq. 2 ``S theta^2 + (1 - S) max(0, m_g - theta)^2`` with
  ``theta = arccos<z_i, z_j>`` on unit features; Eq. 3 ``S_ij = [y~_i = y~_j]``; Sec. 3.1
  the batch split into halves B1, B2 compared element-wise (pairs ``(i, i + P)``,
  ``P = B // 2``), the mean over pairs times ``lambda``.
* Euclidean contrastive (AMC paper Eq. 1): ``S d^2 + (1 - S) max(0, m_e - d)^2``,
  ``d = ||x_i - x_j||`` on the raw features, same pairing and mean.
"""

import numpy as np

__all__ = [
    "amc",
    "angular",
    "arcface",
    "center_loss",
    "center_update",
    "cosface",
    "cosine_dense",
    "cross_entropy",
    "euclidean_contrastive",
    "finite_difference_gradient",
    "gram_rows",
    "haseparator",
    "hyperplane_projections_literal",
    "l2_normalize",
    "normface",
    "sphereface",
    "sphereface_psi",
    "weights_biased_dense",
    "w_softmax",
]


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def _labels(labels):
    return np.asarray(labels).reshape(-1).astype(np.int64)


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def l2_normalize(x, axis=-1):
    """Unit vectors along ``axis``; an exactly-zero vector stays zero."""
    x = _f64(x)
    norm = np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
    safe = np.where(norm > 0.0, norm, 1.0)
    return np.where(norm > 0.0, x / safe, 0.0)


def cross_entropy(logits, labels):
    """Per-sample softmax cross-entropy ``logsumexp(z) - z_y`` (Angular paper Eq. 1-2)."""
    logits = _f64(logits)
    labels = _labels(labels)
    top = np.max(logits, axis=-1, keepdims=True)
    lse = top[:, 0] + np.log(np.sum(np.exp(logits - top), axis=-1))
    return lse - logits[np.arange(len(labels)), labels]


def cosine_dense(x, kernel):
    """``CosineDense``: unit rows of ``x`` times unit columns of ``kernel`` (N, C)."""
    return l2_normalize(x, axis=-1) @ l2_normalize(kernel, axis=0)


def weights_biased_dense(x, kernel):
    """``WeightsBiasedDense``: raw ``x`` times unit columns of ``kernel``."""
    return _f64(x) @ l2_normalize(kernel, axis=0)


def gram_rows(kernel, labels):
    """``G[b, j] = w_hat_{y_b} . w_hat_j``, one explicit dot product per entry."""
    unit = l2_normalize(kernel, axis=0)
    labels = _labels(labels)
    out = np.zeros((len(labels), unit.shape[1]))
    for b, y in enumerate(labels):
        for j in range(unit.shape[1]):
            out[b, j] = float(np.dot(unit[:, y], unit[:, j]))
    return out


def finite_difference_gradient(fn, x, eps=1e-6):
    """Central finite differences of the scalar ``fn`` at ``x`` (float64)."""
    x = _f64(x).copy()
    grad = np.zeros_like(x)
    flat_x = x.reshape(-1)
    flat_g = grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + eps
        plus = fn(x)
        flat_x[i] = old - eps
        minus = fn(x)
        flat_x[i] = old
        flat_g[i] = (plus - minus) / (2.0 * eps)
    return grad


def _target_logits(cosines, labels, scale, target_fn):
    cosines = _f64(cosines)
    labels = _labels(labels)
    logits = scale * cosines.copy()
    rows = np.arange(len(labels))
    logits[rows, labels] = scale * target_fn(cosines[rows, labels])
    return logits


# ---------------------------------------------------------------------------------------
# margin family (y_pred = cosines)
# ---------------------------------------------------------------------------------------
def normface(cosines, labels, scale=16.0):
    """NormFace (Angular paper Eq. 3): CE over ``s cos_j``. Per sample."""
    return cross_entropy(scale * _f64(cosines), labels)


def cosface(cosines, labels, scale=30.0, margin=0.35):
    """CosFace: CE over ``s (cos_j - m [j = y])``. Per sample."""
    logits = _target_logits(cosines, labels, scale, lambda c: c - margin)
    return cross_entropy(logits, labels)


def arcface(cosines, labels, scale=30.0, margin=0.5, easy_margin=False):
    """ArcFace (Angular paper Eq. 4) with the spec's fallback and easy margin. Per sample."""

    def target(cos_y):
        theta = np.arccos(np.clip(cos_y, -1.0, 1.0))
        with_margin = np.cos(theta + margin)
        if easy_margin:
            return np.where(cos_y > 0.0, with_margin, cos_y)
        return np.where(theta + margin > np.pi, cos_y - margin * np.sin(margin), with_margin)

    return cross_entropy(_target_logits(cosines, labels, scale, target), labels)


def sphereface_psi(theta, margin=4):
    """``psi(theta) = (-1)^k cos(m theta) - 2k`` on ``[k pi/m, (k+1) pi/m]`` (A-Softmax)."""
    theta = _f64(theta)
    out = np.empty_like(theta)
    for idx, t in np.ndenumerate(theta):
        k = int(np.floor(t * margin / np.pi))
        k = min(max(k, 0), margin - 1)
        out[idx] = (-1.0) ** k * np.cos(margin * t) - 2.0 * k
    return out


def sphereface(cosines, labels, scale=16.0, margin=4):
    """SphereFace: target logit ``s psi(theta_y)``, others ``s cos_j``. Per sample."""

    def target(cos_y):
        return sphereface_psi(np.arccos(np.clip(cos_y, -1.0, 1.0)), margin)

    return cross_entropy(_target_logits(cosines, labels, scale, target), labels)


def angular(cosines, labels, scale=4.0):
    """Angular "Arc" loss (Eq. 7 as corrected in DESIGN.md): CE over ``s (pi - theta_j)``."""
    theta = np.arccos(np.clip(_f64(cosines), -1.0, 1.0))
    return cross_entropy(scale * (np.pi - theta), labels)


# ---------------------------------------------------------------------------------------
# HASeparator, literally (Kansizoglou et al. Sec. III-C, Eq. 4-8)
# ---------------------------------------------------------------------------------------
def hyperplane_projections_literal(embeddings, kernel, labels):
    """Eq. 5-6 with the B x N x C tensor of normals ``H = T+ - W+`` (DESIGN.md direction).

    The target column (a zero normal) is set to 0 (excluded); any other zero normal
    (two identical class weights) normalises to the zero vector, so its projection is 0.
    """
    labels = _labels(labels)
    e_hat = l2_normalize(embeddings, axis=-1)  # (B, N)
    w_hat = l2_normalize(kernel, axis=0)  # (N, C)
    batch, n = e_hat.shape
    c = w_hat.shape[1]
    t = np.transpose(w_hat[:, labels])[:, :, None]  # T: (B, N, 1)
    t_plus = np.broadcast_to(t, (batch, n, c))  # T+
    w_plus = np.broadcast_to(w_hat[None], (batch, n, c))  # W+
    h = t_plus - w_plus  # normals w_target - w_j
    h_hat = l2_normalize(h, axis=1)  # over N
    p = np.einsum("ik,ikj->ij", e_hat, h_hat)  # Eq. 6
    p[np.arange(batch), labels] = 0.0
    return p


def haseparator(embeddings, kernel, labels, scale=3.0, margin=0.9):
    """HASeparator per-sample loss: CE over ``sigma cos`` (Eq. 4) plus
    ``sum_{j != y} m - min(p_j, m)`` (Eq. 7-8)."""
    labels = _labels(labels)
    logits = scale * cosine_dense(embeddings, kernel)  # Eq. 4
    p = hyperplane_projections_literal(embeddings, kernel, labels)
    j_cost = margin - np.minimum(p, margin)  # Eq. 7
    j_cost[np.arange(len(labels)), labels] = 0.0  # target column excluded
    return cross_entropy(logits, labels) + np.sum(j_cost, axis=1)


# ---------------------------------------------------------------------------------------
# W-Softmax, literally (Li & Wang Eq. 1, 11-13, Algorithm 1)
# ---------------------------------------------------------------------------------------
def w_softmax(features, kernel, labels, alpha=1.5):
    """Algorithm 1: one transformed C x M weight matrix per sample, then CELS. Per sample."""
    x = _f64(features)
    labels = _labels(labels)
    w = l2_normalize(kernel, axis=0)  # unit w_j as columns (M, C)
    num_classes = w.shape[1]
    out = np.zeros(len(labels))
    for i, c in enumerate(labels):
        w_i = np.zeros((num_classes, w.shape[0]))  # rows w'_j
        for j in range(num_classes):
            if j == c:
                w_i[j] = w[:, c]
            else:
                z = alpha * w[:, c] + w[:, j]
                w_i[j] = z / np.linalg.norm(z)  # Eq. 1
        logits = w_i @ x[i]
        out[i] = cross_entropy(logits[None], [c])[0]
    return out


# ---------------------------------------------------------------------------------------
# pair losses (AMC paper)
# ---------------------------------------------------------------------------------------
def amc(embeddings, labels, margin=0.5, weight=0.1):
    """AMC-Loss (Eq. 2-3, Sec. 3.1): ``lambda`` times the mean over pairs ``(i, i + P)``."""
    x = _f64(embeddings)
    labels = _labels(labels)
    half = len(x) // 2
    if half == 0:
        return 0.0
    total = 0.0
    for i in range(half):
        j = i + half
        zi = x[i] / np.linalg.norm(x[i])
        zj = x[j] / np.linalg.norm(x[j])
        theta = np.arccos(np.clip(np.dot(zi, zj), -1.0, 1.0))
        if labels[i] == labels[j]:
            total += theta**2
        else:
            total += max(0.0, margin - theta) ** 2
    return weight * total / half


def euclidean_contrastive(features, labels, margin=1.0, weight=0.1):
    """Euclidean contrastive loss (AMC paper Eq. 1) with the same halves pairing."""
    x = _f64(features)
    labels = _labels(labels)
    half = len(x) // 2
    if half == 0:
        return 0.0
    total = 0.0
    for i in range(half):
        j = i + half
        d = np.linalg.norm(x[i] - x[j])
        if labels[i] == labels[j]:
            total += d**2
        else:
            total += max(0.0, margin - d) ** 2
    return weight * total / half


# ---------------------------------------------------------------------------------------
# center loss (Wen et al. 2016; Angular paper Eq. 5)
# ---------------------------------------------------------------------------------------
def center_loss(features, labels, centers, weight=0.003):
    """Per sample ``weight * 1/2 ||x_i - c_{y_i}||^2``."""
    x = _f64(features)
    c = _f64(centers)
    labels = _labels(labels)
    return np.array([weight * 0.5 * np.sum((x[i] - c[y]) ** 2) for i, y in enumerate(labels)])


def center_update(features, labels, centers, alpha=0.5):
    """One step of Wen et al.'s centre update, class by class."""
    x = _f64(features)
    c = _f64(centers).copy()
    labels = _labels(labels)
    new = c.copy()
    for j in range(c.shape[0]):
        delta = np.zeros(c.shape[1])
        count = 0
        for i, y in enumerate(labels):
            if y == j:
                delta += c[j] - x[i]
                count += 1
        new[j] = c[j] - alpha * delta / (1.0 + count)
    return new
