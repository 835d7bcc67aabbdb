import sys

from cmlib.cli import main

sys.exit(main())
