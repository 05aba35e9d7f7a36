import sys

from spendgate.collector.cli import main

sys.exit(main())
