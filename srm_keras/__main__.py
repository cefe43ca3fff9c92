"""``python -m srm_keras``: the ``srm-keras`` command."""

import sys

from srm_keras.cli import main

sys.exit(main())
