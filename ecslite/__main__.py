import sys

from ecslite.cli.main import main

sys.exit(main())
