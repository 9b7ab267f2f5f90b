"""What the benchmark times: the methods' heads and losses, their paper-literal forms and
their Partial FC (sampled) forms, each as a ``(head, forward)`` candidate."""

from keras_angular.layers import ClassCenters
from keras_angular.losses.hyperplane import haseparator_loss
from keras_angular.losses.partial_fc import PartialFCLoss
from keras_angular.losses.weights_biased import weights_biased_logits_per_sample, wsoftmax_loss
from keras_angular.methods import METHODS as REGISTRY
from keras_angular.methods import build_head_and_losses
from keras_angular.ops import hyperplane_projections_einsum

#: The heads and losses, in table order (the method registry's names); "softmax" is the
#: baseline.
METHODS = tuple(REGISTRY)
MARGIN_METHODS = ("normface", "cosface", "arcface", "sphereface", "arc")
#: Registry overrides that time the papers' own forms, which the literal forms compute.
PAPER_FORMS = {"wsoftmax": {"form": "paper"}}
#: Literal (paper) form -> the closed-form method it is compared with.
LITERAL_FORMS = {"haseparator_einsum": "haseparator", "wsoftmax_per_sample": "wsoftmax"}

#: Partial FC share of the classes per step for the sampled forms.
SAMPLE_FRACTION = 0.1
#: Sampled (Partial FC) form -> the method whose loss it wraps.
SAMPLED_FORMS = {f"{name}_sampled": name for name in (*MARGIN_METHODS, "haseparator")}


def literal_loss(name, head, settings, embeddings):
    """The per-sample loss of a literal form: the closed method's own loss function with
    the paper's intermediate passed in, computed from the raw ``embeddings``.

    ``settings`` are the closed method's (its loss's ``get_config()``), so the pair
    differs only in how the projections (HASeparator: Eq. 5-6's B x N x C einsum)
    or the biased logits (W-Softmax: Algorithm 1's per-sample weight matrices) are
    computed. Returns ``loss(y_true, head_outputs)``.
    """
    if name == "haseparator_einsum":

        def einsum_projections(labels, cosines, kernel):
            del cosines  # the literal form projects the embeddings themselves
            return hyperplane_projections_einsum(labels, embeddings, kernel)

        return lambda y_true, cosines: haseparator_loss(
            y_true,
            cosines,
            head.kernel,
            settings["scale"],
            settings["margin"],
            projections=einsum_projections,
        )

    def per_sample_logits(labels, outputs, kernel, alpha, easy_margin):
        del outputs  # the literal form multiplies the raw features itself
        if easy_margin:
            raise ValueError("Algorithm 1's per-sample logits have no easy margin.")
        return weights_biased_logits_per_sample(labels, embeddings, kernel, alpha)

    return lambda y_true, outputs: wsoftmax_loss(
        y_true,
        outputs,
        head.kernel,
        settings["alpha"],
        settings["easy_margin"],
        logits=per_sample_logits,
    )


def method_head_and_loss(name, num_classes):
    """The head layer and loss of one registered method, with its default hyper-parameters.

    Returns ``(head, loss)``: ``loss`` is the ``{"logits": ..., ["embedding": ...]}``
    dict of :func:`keras_angular.methods.build_head_and_losses`, the form
    ``model.compile(loss=...)`` takes for the two-output model.
    """
    if name not in METHODS:
        raise ValueError(f"bench: unknown method {name!r}; use one of {list(METHODS)}.")
    _, _, head, loss = build_head_and_losses(name, num_classes, **PAPER_FORMS.get(name, {}))
    return head, loss


def build_candidate(name, num_classes):
    """Return ``(head, forward)`` for one method or literal form.

    ``forward(embeddings, labels)`` returns the scalar loss of the method's head
    on the embeddings, as ``model.compile`` would compute it.
    """
    from keras import ops

    base = LITERAL_FORMS.get(name, SAMPLED_FORMS.get(name, name))
    head, loss = method_head_and_loss(base, num_classes)
    if name in SAMPLED_FORMS:
        sampled = PartialFCLoss(loss["logits"], SAMPLE_FRACTION, head=head, seed=0)
        return head, lambda x, y: sampled(y, x)
    if name in LITERAL_FORMS:
        settings = loss["logits"].get_config()

        def forward(x, y):
            return ops.mean(literal_loss(name, head, settings, x)(y, head(x)))

        return head, forward

    def forward(x, y):
        value = loss["logits"](y, head(x))
        if "embedding" not in loss:
            return value
        # the centre loss reads its centres from a ClassCenters layer on the embedding,
        # and updates them after a training-mode call of it, as in model.fit
        layer = getattr(loss["embedding"], "head", None)
        embedding = layer(x, training=True) if isinstance(layer, ClassCenters) else x
        return value + loss["embedding"](y, embedding)

    return head, forward


def candidate_names(methods=None, literal=True, sampled=False):
    """The candidates to time: softmax first, the methods, their literal forms, then
    (with ``sampled``) their Partial FC forms."""
    methods = list(METHODS) if methods is None else list(methods)
    unknown = [name for name in methods if name not in METHODS]
    if unknown:
        raise ValueError(f"bench: unknown method(s) {unknown}; use some of {list(METHODS)}.")
    names = [name for name in METHODS if name == "softmax" or name in methods]
    if literal:
        names += [form for form, closed in LITERAL_FORMS.items() if closed in names]
    if sampled:
        names += [form for form, base in SAMPLED_FORMS.items() if base in names]
    return names


def literal_bytes(shape):
    """Size in bytes of a literal form's B x N x C float32 tensor at ``shape``."""
    batch, width, classes = shape
    return batch * width * classes * 4
