"""`python -m mpa_audit_verify EXPORT --public-key KEY ...`: see `command.py`."""

import sys

from mpa_audit_verify.command import main

sys.exit(main())
