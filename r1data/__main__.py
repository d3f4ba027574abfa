import sys

from r1data.cli import main

sys.exit(main())
