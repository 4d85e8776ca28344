import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets an empty prediction cache of its own (never the user's)."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("POINTBENCH_CACHE", str(path))
    return path
