"""Suite-wide settings: never let code_loader send analytics from a test run; the persistent cache of the CLI
and the server in a folder of this run (never the user's); the trust policy restored per test."""

import os
import tempfile

import pytest

os.environ.setdefault("TL_DISABLE_ANALYTICS", "1")
os.environ.setdefault("TL_CACHE_DIR", tempfile.mkdtemp(prefix="tl-test-cache-"))


@pytest.fixture(autouse=True)
def _trust_policy_restored():
    """The trust policy is process-wide: a server built in-process (``lsp.server.build()``, untrusted by default)
    must not leave later tests of the same process unable to run anything."""
    from tensorleap_ls.runtime import interpreter

    saved = interpreter.policy()
    yield
    interpreter.set_policy(*saved)
