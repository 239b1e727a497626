"""Where a store lives: a plain path keeps Path semantics, a URL stays the string as written."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.store import is_url, local_path, store_location, store_path, zarr_target
from training.options import DataOptions, _from_plain


@pytest.mark.parametrize("text", ["memory://x", "file:///tmp/x.zarr", "s3://bucket/a/x.zarr",
                                  "simplecache::s3://bucket/x.zarr", "gcs://b/x"])
def test_urls_are_kept_as_written(text):
    assert is_url(text) and store_location(text) == text


@pytest.mark.parametrize("text", ["cache/x.zarr", "/abs/x.zarr", "weird:name/x.zarr", "./memory:/x", ""])
def test_anything_else_is_a_path(text):
    assert not is_url(text) and store_location(text) == Path(text)
    assert not is_url(Path("memory://x"))                   # a Path has folded the URL already


def test_store_path_joins_paths_and_appends_to_urls():
    assert store_path(Path("cache"), "utd") == Path("cache") / "utd.zarr"
    assert store_path("cache", "utd") == Path("cache/utd.zarr")
    assert store_path("memory://", "utd") == "memory://utd.zarr"
    assert store_path("s3://bucket/stores/", "utd") == "s3://bucket/stores/utd.zarr"
    assert store_path("file:///data/stores", "utd") == "file:///data/stores/utd.zarr"


def test_local_and_zarr_locations():
    assert local_path("file:///data/x.zarr") == Path("/data/x.zarr") == local_path(Path("/data/x.zarr"))
    assert local_path("memory://x") is None and local_path("s3://b/x") is None
    assert zarr_target("file:///data/x.zarr") == "/data/x.zarr" and zarr_target("s3://b/x") == "s3://b/x"


def test_a_saved_url_store_reads_back_unfolded():
    assert _from_plain(DataOptions, {"store": "memory://a/x.zarr"}).store == "memory://a/x.zarr"
    assert _from_plain(DataOptions, {"store": "cache/x.zarr"}).store == Path("cache/x.zarr")
