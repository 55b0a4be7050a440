import sys

from cti.cli import main

sys.exit(main())
