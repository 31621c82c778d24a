import sys

from pexlab.cli import main

sys.exit(main())
