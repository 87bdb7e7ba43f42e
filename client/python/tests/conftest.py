"""pytest fixtures of the featd Python client's tests: `stack` (one real
redis-server + featd with the test data, shared by a module) and
`fresh_stack` (a private one for tests that stop or restart processes).
The client is imported from this source tree (client/python)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from stack import Stack, bin_path  # noqa: E402


def _need_binaries():
    for b in ("featd", "featd-cli"):
        if not os.access(bin_path(b), os.X_OK):
            pytest.fail("%s not built: run `make all` first (FEATD_BUILD_DIR=%s)"
                        % (bin_path(b), os.environ.get("FEATD_BUILD_DIR", "build")))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    _need_binaries()
    s = Stack(tmp_path_factory.mktemp("stack")).start()
    yield s
    s.close()


@pytest.fixture
def fresh_stack(tmp_path):
    _need_binaries()
    s = Stack(tmp_path).start()
    yield s
    s.close()
