"""`python -m signage`."""

import sys

from signage.cli import main

sys.exit(main())
