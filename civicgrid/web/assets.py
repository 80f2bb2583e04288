"""Third-party browser assets (htmx, ECharts, Leaflet): pinned npm tarballs, checked, unpacked.

The app serves every asset itself (government intranets are often offline) and the repository
holds only code we wrote, so the files are fetched from the npm registry at set-up time —
with urllib, no Node.js — and written under ``settings.VENDOR_STATIC_DIR``, which is served
at ``/static/vendor/``. Each package is pinned to one version and to the sha512 of its tarball
(npm's ``dist.integrity``); a tarball that does not match is refused before anything in it is
read. Only the listed files are taken out, each with its licence files next to it.

Machines without the npm registry set ``CIVICGRID_ASSET_MIRROR`` to a directory or URL that
holds the same tarballs under the same file names (``civicgrid fetch_assets --save-to DIR``
makes one); the integrity check applies to a mirror just the same.

Upgrading a package: change its version, URL and integrity (from
``https://registry.npmjs.org/<name>/<version>``, field ``dist.integrity``) and check its file
list; the next ``ensure_assets`` installs it and removes the files the old version had.
"""

import base64
import hashlib
import hmac
import io
import json
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings

__all__ = [
    "PACKAGES",
    "AssetError",
    "InstallResult",
    "Package",
    "ensure_assets",
    "installed_packages",
    "package_named",
    "static_path",
]

DOWNLOAD_TIMEOUT_SECONDS = 60  # per network operation (connect, each read)
MAX_TARBALL_BYTES = 64 * 1024 * 1024  # the largest pinned tarball (echarts) is about 10 MB
MAX_MEMBER_BYTES = 16 * 1024 * 1024
MANIFEST_NAME = "manifest.json"
STATIC_PREFIX = "vendor"  # URL prefix under STATIC_URL, see STATICFILES_DIRS in settings


@dataclass(frozen=True)
class Package:
    """One npm package: the exact tarball, its integrity, and the files taken from it."""

    name: str
    version: str
    url: str
    integrity: str  # npm's dist.integrity: "sha512-" + base64 of the tarball's SHA-512
    directory: str  # under the vendor directory, and so under /static/vendor/
    files: dict[str, str]  # member of the tarball ("package/...") -> path under `directory`
    scripts: tuple[str, ...] = ()  # what {% vendor_js %} includes, paths under `directory`
    stylesheets: tuple[str, ...] = ()  # what {% vendor_css %} includes
    license: str = ""  # SPDX identifier, for the record

    @property
    def tarball_name(self) -> str:
        return PurePosixPath(urllib.parse.urlsplit(self.url).path).name

    def destinations(self) -> list[str]:
        """The installed files, as paths relative to the vendor directory."""
        return [f"{self.directory}/{dest}" for dest in self.files.values()]


PACKAGES: tuple[Package, ...] = (
    Package(
        name="htmx.org",
        version="2.0.11",
        url="https://registry.npmjs.org/htmx.org/-/htmx.org-2.0.11.tgz",
        integrity=(
            "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="
        ),
        directory="htmx",
        files={
            "package/dist/htmx.min.js": "htmx.min.js",
            "package/LICENSE": "LICENSE.txt",
        },
        scripts=("htmx.min.js",),
        license="0BSD",
    ),
    Package(
        name="echarts",
        version="5.6.0",
        url="https://registry.npmjs.org/echarts/-/echarts-5.6.0.tgz",
        integrity=(
            "sha512-oTbVTsXfKuEhxftHqL5xprgLoc0k7uScAwtryCgWF6hPYFLRwOUHiFmHGCBKP5NPFNkDVopOieyUqYGH8Fa3kA=="
        ),
        directory="echarts",
        files={
            "package/dist/echarts.min.js": "echarts.min.js",
            "package/LICENSE": "LICENSE.txt",
            "package/NOTICE": "NOTICE.txt",  # Apache-2.0 asks for the NOTICE to travel along
            "package/licenses/LICENSE-d3": "LICENSE-d3.txt",
        },
        scripts=("echarts.min.js",),
        license="Apache-2.0",
    ),
    Package(
        name="leaflet",
        version="1.9.4",
        url="https://registry.npmjs.org/leaflet/-/leaflet-1.9.4.tgz",
        integrity=(
            "sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
        ),
        directory="leaflet",
        files={
            "package/dist/leaflet.js": "leaflet.js",
            "package/dist/leaflet.js.map": "leaflet.js.map",  # leaflet.js names it
            "package/dist/leaflet.css": "leaflet.css",
            # leaflet.css refers to these as url(images/...)
            "package/dist/images/layers.png": "images/layers.png",
            "package/dist/images/layers-2x.png": "images/layers-2x.png",
            "package/dist/images/marker-icon.png": "images/marker-icon.png",
            "package/dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
            "package/dist/images/marker-shadow.png": "images/marker-shadow.png",
            "package/LICENSE": "LICENSE.txt",
        },
        scripts=("leaflet.js",),
        stylesheets=("leaflet.css",),
        license="BSD-2-Clause",
    ),
)


class AssetError(Exception):
    """A package could not be fetched, did not match its integrity, or could not be unpacked."""


@dataclass
class InstallResult:
    """Package names installed by this call, and those that were installed already."""

    installed: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)


def package_named(name: str, packages: Iterable[Package] = PACKAGES) -> Package:
    for package in packages:
        if package.name == name or package.directory == name:
            return package
    raise KeyError(name)


def static_path(package: Package, relative: str) -> str:
    """The path to give to {% static %} for a file of `package`, e.g. vendor/leaflet/leaflet.js."""
    return f"{STATIC_PREFIX}/{package.directory}/{relative}"


def installed_packages(vendor_dir: Path | None = None) -> dict[str, dict]:
    """The manifest: package name -> {"version", "integrity", "files"} as last installed."""
    path = Path(vendor_dir or settings.VENDOR_STATIC_DIR) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable: reinstall everything, which rewrites it
    packages = data.get("packages") if isinstance(data, dict) else None
    return packages if isinstance(packages, dict) else {}


def ensure_assets(
    progress: Callable[[str], object] = print,
    *,
    force: bool = False,
    packages: Iterable[Package] = PACKAGES,
    vendor_dir: Path | str | None = None,
    mirror: str | None = None,
    save_to: Path | str | None = None,
) -> InstallResult:
    """Install every package that is not installed at its pinned version; a no-op otherwise.

    `mirror` (default: ``settings.VENDOR_ASSET_MIRROR``) replaces the npm registry by a
    directory or base URL holding the tarballs by file name. `save_to` keeps a copy of each
    verified tarball there (implies downloading them all), to carry to an offline machine.
    Raises AssetError naming the package on the first failure; packages installed before it
    stay installed.
    """
    vendor = Path(vendor_dir or settings.VENDOR_STATIC_DIR)
    vendor.mkdir(parents=True, exist_ok=True)
    if mirror is None:
        mirror = getattr(settings, "VENDOR_ASSET_MIRROR", "")
    result = InstallResult()
    for package in packages:
        label = f"{package.name} {package.version}"
        recorded = installed_packages(vendor).get(package.name)
        if not force and save_to is None and _is_installed(vendor, package, recorded):
            result.present.append(package.name)
            continue
        with tempfile.TemporaryFile() as tarball:
            _fetch(package, mirror, tarball, progress, label)
            _verify(package, tarball)
            progress(f"{label}: sha512 verified")
            if save_to is not None:
                _save_copy(tarball, Path(save_to) / package.tarball_name)
                progress(f"{label}: saved {Path(save_to) / package.tarball_name}")
            _extract(package, tarball, vendor)
        _remove_stale(vendor, package, recorded)
        _record(vendor, package)
        progress(f"{label}: installed {len(package.files)} files in {vendor / package.directory}")
        result.installed.append(package.name)
    return result


def _is_installed(vendor: Path, package: Package, recorded: dict | None) -> bool:
    return (
        isinstance(recorded, dict)
        and recorded.get("version") == package.version
        and recorded.get("integrity") == package.integrity
        and all((vendor / dest).is_file() for dest in package.destinations())
    )


def _source(package: Package, mirror: str) -> str:
    if not mirror:
        return package.url
    if mirror.startswith(("http://", "https://")):
        return mirror.rstrip("/") + "/" + urllib.parse.quote(package.tarball_name)
    if mirror.startswith("file://"):
        mirror = urllib.request.url2pathname(urllib.parse.urlsplit(mirror).path)
    return str(Path(mirror) / package.tarball_name)


def _fetch(package: Package, mirror: str, out, progress, label: str) -> None:
    source = _source(package, mirror)
    hint = (
        f"; on a machine without the npm registry set CIVICGRID_ASSET_MIRROR to a directory "
        f"holding {package.tarball_name}"
    )
    if not source.startswith(("http://", "https://")):
        progress(f"{label}: copying {source}")
        try:
            with open(source, "rb") as src:
                _copy_limited(src, out, None, progress, label)
        except OSError as exc:
            raise AssetError(f"{label}: cannot read {source}: {exc}") from exc
        return
    progress(f"{label}: downloading {source}")
    request = urllib.request.Request(source, headers={"User-Agent": "civicgrid-fetch-assets"})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            _copy_limited(response, out, total, progress, label)
    except AssetError:
        raise
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
        raise AssetError(f"{label}: cannot download {source}: {exc}{hint}") from exc


def _copy_limited(src, out, total: int | None, progress, label: str) -> None:
    if total is not None and total > MAX_TARBALL_BYTES:
        raise AssetError(f"{label}: tarball of {total} bytes is larger than expected")
    done, next_report = 0, 0.25
    while chunk := src.read(256 * 1024):
        done += len(chunk)
        if done > MAX_TARBALL_BYTES:
            raise AssetError(f"{label}: tarball is larger than {MAX_TARBALL_BYTES} bytes")
        out.write(chunk)
        if total and total > 1024 * 1024 and done / total >= next_report and done < total:
            progress(f"{label}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
            next_report += 0.25
    out.flush()


def _verify(package: Package, tarball) -> None:
    algorithm, _, expected = package.integrity.partition("-")
    if algorithm != "sha512" or not expected:
        raise AssetError(f"{package.name}: integrity must be sha512-<base64>")
    digest = hashlib.sha512()
    tarball.seek(0)
    while chunk := tarball.read(1024 * 1024):
        digest.update(chunk)
    actual = base64.b64encode(digest.digest()).decode()
    if not hmac.compare_digest(actual, expected):
        raise AssetError(
            f"{package.name} {package.version}: integrity mismatch, refusing to install "
            f"(expected sha512-{expected}, got sha512-{actual})"
        )
    tarball.seek(0)


def _safe_relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or not relative.parts or ".." in relative.parts:
        raise AssetError(f"unsafe destination path {path!r}")
    return relative


def _extract(package: Package, tarball, vendor: Path) -> None:
    """Write the listed members, and nothing else, under vendor/<directory>/."""
    label = f"{package.name} {package.version}"
    root = vendor.resolve()
    wanted = {
        member: root / _safe_relative(package.directory) / _safe_relative(dest)
        for member, dest in package.files.items()
    }
    for target in wanted.values():
        if not target.resolve().is_relative_to(root):  # e.g. through a symlinked directory
            raise AssetError(f"{label}: {target} is outside {root}")
    try:
        with tarfile.open(fileobj=tarball, mode="r:gz") as archive:
            # Members are looked up by exact name, so anything else in the tarball (absolute
            # paths, "..", links, devices) is never touched.
            found = {m.name: m for m in archive.getmembers() if m.name in wanted}
            missing = sorted(set(wanted) - set(found))
            if missing:
                raise AssetError(f"{label}: tarball lacks {', '.join(missing)}")
            for name, target in wanted.items():
                member = found[name]
                if not member.isfile():
                    raise AssetError(f"{label}: {name} is not a regular file, refusing it")
                if member.size > MAX_MEMBER_BYTES:
                    raise AssetError(f"{label}: {name} is larger than expected")
                source = archive.extractfile(member)
                if source is None:
                    raise AssetError(f"{label}: cannot read {name}")
                _write_atomically(target, source)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise AssetError(f"{label}: cannot unpack the tarball: {exc}") from exc


def _write_atomically(target: Path, source) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _save_copy(tarball, target: Path) -> None:
    tarball.seek(0)
    _write_atomically(target, tarball)
    tarball.seek(0)


def _remove_stale(vendor: Path, package: Package, recorded: dict | None) -> None:
    """Delete what the previously installed version had and this one has not."""
    if not isinstance(recorded, dict):
        return
    keep = set(package.destinations())
    root = vendor.resolve()
    for old in recorded.get("files") or []:
        if not isinstance(old, str) or old in keep:
            continue
        try:
            path = (root / _safe_relative(old)).resolve()
        except AssetError:
            continue
        if path.is_relative_to(root) and path.is_file():
            path.unlink()


def _record(vendor: Path, package: Package) -> None:
    packages = installed_packages(vendor)
    packages[package.name] = {
        "version": package.version,
        "integrity": package.integrity,
        "url": package.url,
        "license": package.license,
        "files": package.destinations(),
    }
    text = json.dumps({"packages": packages}, indent=2, sort_keys=True) + "\n"
    _write_atomically(vendor / MANIFEST_NAME, io.BytesIO(text.encode()))
