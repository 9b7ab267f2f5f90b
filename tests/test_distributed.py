"""``tf.distribute.MirroredStrategy`` on two logical CPU devices: same loss, same gradients.

Logical devices must be configured before TensorFlow initialises its devices, so the
work runs in a fresh Python process (this file, run as a script); each test starts one
and reads the JSON it prints. For every method, starting from the same weights:

* ``global``: loss and gradients on one device over the global batch (B = 8);
* ``shards``: on one device, the mean of the losses of the two half-batches (what two
  replicas compute, each on its own 4 rows);
* ``mirrored``: one ``model.fit`` step (SGD, learning rate 1) under ``MirroredStrategy``
  with two replicas; its gradient is ``w_before - w_after``.

What holds:

* per-sample-mean losses (NormFace, CosFace, ArcFace, SphereFace, Angular, HASeparator,
  W-Softmax, Center) give ``mirrored == shards == global``: the same loss and gradients as
  one device;
* the pair losses (AMC, Euclidean contrastive) pair *within each replica*: replica r
  holds rows ``[4r, 4r + 4)`` of the global batch and pairs row ``i`` of its slice with
  row ``i + 2``; ``mirrored == shards``, and the reported loss is the mean of the two
  replicas' pair losses, checked against the NumPy reference of ``reference.py``. It
  differs from one device's global pairing ``(i, i + 4)`` - a different set of pairs;
* CenterLoss sums the per-class counts and feature sums over the replicas before its
  centre update, so the centres after the step equal one device's update on the global
  batch (Wen et al. Eq. 4) and every replica holds the same centres - with centres of
  its own (``center``) and in a ``ClassCenters`` layer of the model (``center_layer``).
"""

import json
import os
import subprocess
import sys

import numpy as np

B, D, EMB, C = 8, 6, 5, 4
SOFTMAX_FAMILY = [
    "normface",
    "cosface",
    "arcface",
    "sphereface",
    "angular",
    "haseparator",
    "wsoftmax",
]
EMBEDDING_LOSSES = ["amc", "amc_true_labels", "euclidean", "center", "center_layer"]
CENTER_LOSSES = ("center", "center_layer")


def _run_worker(group):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    env["CUDA_VISIBLE_DEVICES"] = ""  # two logical CPUs, even on a GPU machine
    proc = subprocess.run(
        [sys.executable, __file__, group],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _close(a, b, tol=2e-5):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=tol, atol=tol))


def test_softmax_family_is_the_same_on_two_replicas_as_on_one_device():
    results = _run_worker("softmax")
    assert sorted(results) == sorted(SOFTMAX_FAMILY)
    failures = []
    for method, r in results.items():
        if r["replicas"] != 2:
            failures.append(f"{method}: {r['replicas']} replicas")
        if not _close(r["loss"]["mirrored"], r["loss"]["global"]):
            failures.append(f"{method}: loss {r['loss']}")
        for i, (g, s, m) in enumerate(
            zip(r["grads"]["global"], r["grads"]["shards"], r["grads"]["mirrored"], strict=True)
        ):
            if not (_close(m, g) and _close(s, g)):
                failures.append(f"{method}: gradient of variable {i} differs")
    assert not failures, failures


def test_embedding_losses_on_two_replicas():
    results = _run_worker("embedding")
    assert sorted(results) == sorted(EMBEDDING_LOSSES)
    failures = []
    for method, r in results.items():
        if not _close(r["loss"]["mirrored"], r["loss"]["shards"]):
            failures.append(f"{method}: loss {r['loss']}")
        if not _close(r["embedding_loss"]["mirrored"], r["embedding_loss"]["reference"]):
            failures.append(f"{method}: embedding loss {r['embedding_loss']}")
        for i, (s, m) in enumerate(zip(r["grads"]["shards"], r["grads"]["mirrored"], strict=True)):
            if not _close(m, s):
                failures.append(f"{method}: gradient of variable {i} differs from shards")
        if method in CENTER_LOSSES:
            # a per-sample mean: the same as one device, centres included
            if not _close(r["loss"]["mirrored"], r["loss"]["global"]):
                failures.append(f"{method}: loss {r['loss']}")
            for i, (g, m) in enumerate(
                zip(r["grads"]["global"], r["grads"]["mirrored"], strict=True)
            ):
                if not _close(m, g):
                    failures.append(f"{method}: gradient of variable {i} differs from one device")
            centres = r["centers"]
            if not (
                _close(centres["mirrored"], centres["reference"])
                and _close(centres["global"], centres["reference"])
            ):
                failures.append(f"{method}: centres {centres}")
            if not centres["replicas_agree"]:
                failures.append(f"{method}: the replicas hold different centres")
        elif method.startswith("amc"):
            # what a replica pairs with: its own half-batch, not the global halves
            if _close(r["embedding_loss"]["mirrored"], r["embedding_loss"]["global_pairing"], 1e-6):
                failures.append(f"{method}: the in-replica pairing equals the global one?")
    assert not failures, failures


# ---------------------------------------------------------------------------------------
# the worker (runs in its own process)
# ---------------------------------------------------------------------------------------
def _worker(group):  # pragma: no cover - runs in a subprocess
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    import keras
    import reference as ref

    from keras_angular import layers
    from keras_angular import losses as L

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, D)).astype(np.float32)
    # both classes in each half, and same-label pairs within each replica's halves
    y = np.array([0, 1, 0, 2, 3, 1, 3, 1], np.int32)
    shards = [slice(0, B // 2), slice(B // 2, B)]

    def build(method):
        keras.utils.set_random_seed(3)
        inputs = keras.Input((D,))
        embedding = keras.layers.Dense(EMB, name="embedding")(inputs)
        head_cls = layers.WeightsBiasedDense if method == "wsoftmax" else layers.CosineDense
        head = head_cls(C, name="head")
        logits = head(embedding)
        centers = layers.ClassCenters(C, name="centers")
        single = {
            "normface": lambda: L.NormFaceLoss(scale=8.0),
            "cosface": lambda: L.CosFaceLoss(scale=8.0),
            "arcface": lambda: L.ArcFaceLoss(scale=8.0),
            "sphereface": lambda: L.SphereFaceLoss(scale=8.0),
            "angular": lambda: L.AngularLoss(),
            "haseparator": lambda: L.HASeparatorLoss(head=head),
            "wsoftmax": lambda: L.WSoftmaxLoss(head=head),
        }
        pair = {
            "amc": lambda: L.AMCLoss(margin=2.0, weight=1.0, head=head),
            "amc_true_labels": lambda: L.AMCLoss(margin=2.0, weight=1.0),
            "euclidean": lambda: L.EuclideanContrastiveLoss(margin=3.0, weight=1.0, head=head),
            "center": lambda: L.CenterLoss(C, alpha=0.5, weight=1.0),
            "center_layer": lambda: L.CenterLoss(alpha=0.5, weight=1.0, head=centers),
        }
        if method in single:
            model = keras.Model(inputs, {"logits": logits})
            losses = {"logits": single[method]()}
        else:
            if method == "center_layer":
                embedding = centers(embedding)
            model = keras.Model(inputs, {"logits": logits, "embedding": embedding})
            losses = {"logits": L.NormFaceLoss(scale=8.0), "embedding": pair[method]()}
        model.compile(keras.optimizers.SGD(1.0), loss=losses)
        return model, losses

    def one_device(method, rows_list):
        """Mean over ``rows_list`` of the loss on those rows, and its gradients."""
        model, losses = build(method)
        # in training mode a ClassCenters model's loss would move the centres between the
        # shards; these models have no layer that computes otherwise in training mode
        training = method != "center_layer"
        with tf.GradientTape() as tape:
            total = 0.0
            for rows in rows_list:
                out = model(x[rows], training=training)
                total += sum(loss(y[rows], out[k]) for k, loss in losses.items())
            total = total / len(rows_list)
        grads = tape.gradient(total, model.trainable_variables)
        return model, losses, float(total), [g.numpy().tolist() for g in grads]

    def mirrored(method, w0):
        with strategy.scope():
            model, losses = build(method)
        for v, w in zip(model.trainable_variables, w0, strict=True):
            v.assign(w)
        targets = {k: y for k in losses}
        history = model.fit(x, targets, batch_size=B, epochs=1, shuffle=False, verbose=0).history
        grads = [
            (w - v.numpy()).tolist() for v, w in zip(model.trainable_variables, w0, strict=True)
        ]
        return model, losses, history, grads

    methods = SOFTMAX_FAMILY if group == "softmax" else EMBEDDING_LOSSES
    results = {}
    for method in methods:
        model, _, loss_g, grads_g = one_device(method, [slice(0, B)])
        w0 = [v.numpy() for v in model.trainable_variables]
        outputs = model(x)
        _, _, loss_s, grads_s = one_device(method, shards)
        m_model, m_losses, history, grads_m = mirrored(method, w0)
        r = {
            "replicas": strategy.num_replicas_in_sync,
            "loss": {"global": loss_g, "shards": loss_s, "mirrored": history["loss"][0]},
            "grads": {"global": grads_g, "shards": grads_s, "mirrored": grads_m},
        }
        if group == "embedding":
            emb = np.asarray(outputs["embedding"])
            pred = np.argmax(np.asarray(outputs["logits"]), axis=-1)
            labels = y if method in ("amc_true_labels", *CENTER_LOSSES) else pred
            if method in CENTER_LOSSES:
                reference = float(np.mean(ref.center_loss(emb, y, np.zeros((C, EMB)), 1.0)))
                global_pairing = reference
                new_centres = ref.center_update(emb, y, np.zeros((C, EMB)), 0.5)
                m_loss = m_losses["embedding"]
                g_model, g_losses = build(method)
                for v, w in zip(g_model.trainable_variables, w0, strict=True):
                    v.assign(w)
                g_model.fit(x, {k: y for k in g_losses}, batch_size=B, shuffle=False, verbose=0)
                r["centers"] = {
                    "reference": new_centres.tolist(),
                    "mirrored": np.asarray(m_loss.centers).tolist(),
                    "global": np.asarray(g_losses["embedding"].centers).tolist(),
                    "replicas_agree": all(
                        np.array_equal(a.numpy(), np.asarray(m_loss.centers))
                        for a in strategy.experimental_local_results(m_loss.centers.value)
                    ),
                }
            else:
                pair_ref = ref.amc if method.startswith("amc") else ref.euclidean_contrastive
                margin = 2.0 if method.startswith("amc") else 3.0
                per_replica = [pair_ref(emb[s], labels[s], margin, 1.0) for s in shards]
                reference = float(np.mean(per_replica))
                global_pairing = float(pair_ref(emb, labels, margin, 1.0))
            r["embedding_loss"] = {
                "mirrored": history["embedding_loss"][0],
                "reference": reference,
                "global_pairing": global_pairing,
            }
        results[method] = r
    print(json.dumps(results))


if __name__ == "__main__":  # pragma: no cover
    _worker(sys.argv[1])
