import sys

from raydeval.cli import main

sys.exit(main())
