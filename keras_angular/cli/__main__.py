"""``python -m keras_angular.cli``: the ``keras-angular`` command."""

import sys

from keras_angular.cli import main

sys.exit(main())
