"""Atomic artifact writing and hashing: a crash never leaves a half-written file that later loads."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import FashionEdgeError


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_writable_dir(path: Path) -> Path:
    """Create `path` if needed and check we can write there; raise FashionEdgeError otherwise."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FashionEdgeError(f"cannot create output directory {path}: {e.strerror}") from e
    if not os.access(path, os.W_OK | os.X_OK):
        raise FashionEdgeError(f"output directory {path} is not writable; choose another with --out")
    return path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix); rename it over `path` only if the block succeeds."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; artifacts get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        _write_synced(tmp, data)


def atomic_write_files(files: dict[Path, bytes]) -> None:
    """Write several files as one set: all are written beside their names first and renamed only when every one
    is on disk, so a failure (a full disk) replaces none of them and leaves no temporary file."""
    with contextlib.ExitStack() as stack:
        for path, data in files.items():
            _write_synced(stack.enter_context(atomic_path(path)), data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def json_text(obj: Any) -> str:
    """How every JSON artifact is laid out."""
    return json.dumps(obj, indent=2, sort_keys=False) + "\n"


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json_text(obj))


def read_json(path: Path, missing_hint: str) -> Any:
    """Parse a JSON artifact; FashionEdgeError names the file (and, when it is absent, says `missing_hint`)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as e:
        raise FashionEdgeError(f"{path} not found; {missing_hint}") from e
    except (OSError, ValueError) as e:
        raise FashionEdgeError(f"{path} is unreadable or not JSON: {e}") from e
