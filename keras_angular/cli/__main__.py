"""``python -m keras_angular.cli``: the ``keras-angular`` command."""

import sys

from keras_angular.cli import main

if __name__ == "__main__":
    sys.exit(main())
