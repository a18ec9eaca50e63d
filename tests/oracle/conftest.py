"""One SDK runner process for the whole oracle session (see sdk_runner.py)."""

from __future__ import annotations

import pytest

from oracle_sdk import SdkOracle


@pytest.fixture(scope="session")
def sdk():
    oracle = SdkOracle()
    yield oracle
    oracle.close()
