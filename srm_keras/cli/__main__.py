import sys

from srm_keras.cli import main

sys.exit(main())
