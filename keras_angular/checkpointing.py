"""Backup and restore of a run of several processes: Keras' ``BackupAndRestore``, written by
process 0 and read back by every process.

[`DistributedBackup`][keras_angular.checkpointing.DistributedBackup] is
``keras.callbacks.BackupAndRestore`` (the model's weights, its optimizer's state and the
epoch, in ``backup_dir/latest.weights.h5`` and ``training_metadata.json`` at the end of each
epoch) for a ``fit`` under a ``keras.distribution.DataParallel`` of one or several
processes:

* only process 0 writes ``backup_dir``: the weights a ``DataParallel`` replicates on every
  device are readable on every process, so one copy is the checkpoint of all of them, and
  the processes never write the same files at once (on a shared disk they would);
* at the start of ``fit`` process 0 reads ``backup_dir`` and sends its files to every other
  process ([`keras_angular.distribution.from_process_zero`][]), which restores them as
  ``BackupAndRestore`` does: every process assigns the same values at the same time (as a
  ``DataParallel`` needs), and no process needs the disk of another;
* whether a checkpoint exists is what process 0 finds: the other processes follow it.

The epoch restores what the package's ramps read (they assign their values from the
epoch at its start) and the seeded order of the training data (drawn from the seed and the
epoch), so a resumed run continues as the interrupted one would have.

Examples:
    >>> import tempfile
    >>> backup = DistributedBackup(tempfile.mkdtemp())
    >>> backup.save_freq
    'epoch'
"""

import os
import shutil
import tempfile

import keras
import numpy as np

from keras_angular import distribution

__all__ = ["DistributedBackup"]


class DistributedBackup(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` for a ``fit`` under a
    ``keras.distribution.DataParallel`` of one or several processes: process 0 writes the
    checkpoint at the end of each epoch; at the start of ``fit`` every process restores
    process 0's (see the module docstring).

    Args:
        backup_dir: the checkpoint folder of process 0 (the other processes neither read
            nor write it: they restore from a temporary copy of process 0's files).

    Examples:
        >>> import keras, numpy as np, os, tempfile
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> folder = os.path.join(tempfile.mkdtemp(), "backup")
        >>> history = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=0,
        ...                     callbacks=[DistributedBackup(folder)])
        >>> len(history.history["loss"]), os.path.exists(folder)   # ended: backup deleted
        (2, False)
    """

    def __init__(self, backup_dir):
        super().__init__(backup_dir)
        self._received = None  # the temporary folder of a process other than 0

    def on_train_begin(self, logs=None):
        files = self._files_of_process_zero()
        if distribution.process_index() != 0:
            # restore from process 0's files, put where BackupAndRestore reads
            self._received = tempfile.mkdtemp(prefix="keras_angular_backup_")
            self._point_to(self._received)
            for name, content in files.items():
                with open(os.path.join(self._received, name), "wb") as f:
                    f.write(content)
        super().on_train_begin(logs)

    def _files_of_process_zero(self):
        """``{file name: bytes}`` of process 0's checkpoint files, in every process."""
        paths = [self._weights_path, self._training_metadata_path]
        mine = [_read(path) if distribution.process_index() == 0 else b"" for path in paths]
        sizes = distribution.from_process_zero(np.array([len(c) for c in mine], np.int64))
        files = {}
        for path, content, size in zip(paths, mine, sizes.tolist(), strict=True):
            if size == 0:
                continue
            data = np.frombuffer(content, np.uint8) if content else np.zeros(size, np.uint8)
            files[os.path.basename(path)] = distribution.from_process_zero(data).tobytes()
        return files

    def _point_to(self, folder):
        self.backup_dir = folder
        self._weights_path = os.path.join(folder, os.path.basename(self._weights_path))
        self._training_metadata_path = os.path.join(
            folder, os.path.basename(self._training_metadata_path)
        )
        self._prev_weights_path = f"{self._weights_path}.bkp"
        self._prev_training_metadata_path = f"{self._training_metadata_path}.bkp"

    def _save_model(self):
        if distribution.process_index() == 0:
            with distribution.no_distribution():  # process 0 alone reads the weights
                super()._save_model()

    def on_train_end(self, logs=None):
        if distribution.process_index() == 0:
            super().on_train_end(logs)
        if self._received is not None:
            shutil.rmtree(self._received, ignore_errors=True)


def _read(path):
    if not os.path.exists(path):
        return b""
    with open(path, "rb") as f:
        return f.read()
