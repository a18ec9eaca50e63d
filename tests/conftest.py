"""Suite-wide settings: never let code_loader send analytics from a test run."""

import os

os.environ.setdefault("TL_DISABLE_ANALYTICS", "1")
