"""Taking files out of archives (zip/wheel/pk3, tar.gz/xz, Debian .deb) in one pass, never a
reserved one: every member is checked with :func:`avsync.data.real.is_reserved`, and a reserved
member is reported, not written, even when it was asked for."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from avsync.data.real import is_reserved
from avsync.errors import MediaError

Choose = Callable[[str], "Path | None"]  # member name -> where to write it, None to leave it


@dataclass
class Extraction:
    """What one pass over an archive did: files written (member -> path) and reserved members
    skipped (member, reason)."""

    written: dict[str, Path] = field(default_factory=dict)
    reserved: list[tuple[str, str]] = field(default_factory=list)


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def member_name(name: str) -> str:
    """An archive member's name without a leading ``./`` or ``/``."""
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def write_atomic(src: IO[bytes], dest: Path) -> None:
    """Copy the stream ``src`` to ``dest`` through a temporary name and a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    with tmp.open("wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    tmp.replace(dest)


def _zip_members(path: Path) -> Iterator[tuple[str, Callable[[], IO[bytes]]]]:
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if not info.is_dir():
                yield member_name(info.filename), lambda info=info: z.open(info)


def _tar_stream(tar: tarfile.TarFile) -> Iterator[tuple[str, Callable[[], IO[bytes]]]]:
    for info in tar:
        if info.isfile():
            yield member_name(info.name), lambda info=info: tar.extractfile(info)


@contextmanager
def _deb_tar(path: Path) -> Iterator[tarfile.TarFile]:
    """The data tarball of a .deb, streamed from ``dpkg-deb --fsys-tarfile``."""
    if shutil.which("dpkg-deb") is None:
        raise MediaError(path, "dpkg-deb is not installed: cannot open a .deb")
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            yield tar
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip()
        rc = proc.wait()
    if rc != 0:
        raise MediaError(path, f"dpkg-deb failed ({(err.splitlines() or ['exit status %d' % rc])[-1]})")


@contextmanager
def _members(path: Path) -> Iterator[Iterator[tuple[str, Callable[[], IO[bytes]]]]]:
    """(name, opener) for every regular file of the archive ``path``, in archive order."""
    name = path.name.lower()
    if name.endswith(".deb"):
        with _deb_tar(path) as tar:
            yield _tar_stream(tar)
    elif zipfile.is_zipfile(path):
        yield _zip_members(path)
    elif tarfile.is_tarfile(path):
        with tarfile.open(path, mode="r|*") as tar:
            yield _tar_stream(tar)
    else:
        raise MediaError(path, "not an archive avsync can open (zip, tar or .deb)")


def extract(archive: str | Path, choose: Choose) -> Extraction:
    """One pass over ``archive``: each member ``choose`` maps to a path is written there (temp name
    + rename); reserved members are never written and are listed in the result."""
    archive, result = Path(archive), Extraction()
    try:
        with _members(archive) as members:
            for name, opener in members:
                reason = is_reserved(name)
                if reason:
                    result.reserved.append((name, reason))
                    continue
                dest = choose(name)
                if dest is not None:
                    with opener() as src:
                        write_atomic(src, Path(dest))
                    result.written[name] = Path(dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise MediaError(archive, f"damaged archive ({e})") from None
    return result


def extract_members(archive: str | Path, wanted: Mapping[str, str | Path]) -> Extraction:
    """Write the members named in ``wanted`` (member -> path); MediaError if one is not in the
    archive. A reserved member is refused: listed in ``reserved``, not written."""
    result = extract(archive, lambda name: Path(wanted[name]) if name in wanted else None)
    missing = sorted(set(wanted) - set(result.written) - {m for m, _ in result.reserved})
    if missing:
        raise MediaError(archive, f"not in the archive: {', '.join(missing)}")
    return result
