import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_translation_cache(tmp_path_factory):
    """Commands under test use the persistent cache by default: give the
    session its own, so tests neither read nor leave the user's."""
    d = tmp_path_factory.mktemp("jitemu-cache")
    old = os.environ.get("JITEMU_CACHE_DIR")
    os.environ["JITEMU_CACHE_DIR"] = str(d)
    yield
    if old is None:
        os.environ.pop("JITEMU_CACHE_DIR", None)
    else:
        os.environ["JITEMU_CACHE_DIR"] = old
