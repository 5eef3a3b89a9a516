import sys

from ecglab.cli import main

sys.exit(main())
