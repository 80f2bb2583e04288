"""The vendored browser assets: pinned, integrity-checked, unpacked safely, served by the app.

Every test but the last few builds its own npm-like tarballs in a temporary mirror directory,
so none needs the network; the last ones check the real pinned packages, which the session
fixture in civicgrid/conftest.py installed.
"""

import base64
import functools
import hashlib
import http.server
import io
import re
import tarfile
import threading
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.template import Context, Template, TemplateSyntaxError
from django.test import override_settings

from civicgrid.web import assets
from civicgrid.web.assets import PACKAGES, AssetError, Package, ensure_assets

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
GOOD_MEMBERS = {
    "package/dist/lib.min.js": b"window.lib = {version: '1.2.3'};\n",
    "package/dist/lib.css": b".lib { color: red }\n",
    "package/dist/images/pin.png": PNG,
    "package/LICENSE": b"MIT License\n",
}


def make_tarball(members, links=()):
    """A gzipped tarball like npm's; `links` are (name, target) symlink members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


def integrity_of(data):
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fake_package(tarball, **changes):
    fields = dict(
        name="fakelib",
        version="1.2.3",
        url="https://registry.npmjs.org/fakelib/-/fakelib-1.2.3.tgz",
        integrity=integrity_of(tarball),
        directory="fakelib",
        files={
            "package/dist/lib.min.js": "lib.min.js",
            "package/dist/lib.css": "lib.css",
            "package/dist/images/pin.png": "images/pin.png",
            "package/LICENSE": "LICENSE.txt",
        },
        scripts=("lib.min.js",),
        stylesheets=("lib.css",),
    )
    fields.update(changes)
    return Package(**fields)


@pytest.fixture
def mirror(tmp_path):
    directory = tmp_path / "mirror"
    directory.mkdir()
    return directory


@pytest.fixture
def vendor(tmp_path):
    return tmp_path / "vendor"


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_the_pinned_packages_are_exact_registry_tarballs_with_licences():
    by_name = {package.name: package for package in PACKAGES}
    assert set(by_name) == {"htmx.org", "echarts", "leaflet"}
    assert re.fullmatch(r"2\.0\.\d+", by_name["htmx.org"].version)
    assert re.fullmatch(r"5\.\d+\.\d+", by_name["echarts"].version)
    assert by_name["leaflet"].version == "1.9.4"
    for package in PACKAGES:
        assert package.url == (
            f"https://registry.npmjs.org/{package.name}/-/{package.name}-{package.version}.tgz"
        )
        algorithm, _, digest = package.integrity.partition("-")
        assert algorithm == "sha512" and len(base64.b64decode(digest)) == 64
        assert "LICENSE.txt" in package.files.values()
        assert all(member.startswith("package/") for member in package.files)
        assert set(package.scripts + package.stylesheets) <= set(package.files.values())
    leaflet_files = set(by_name["leaflet"].files.values())
    assert {"leaflet.js", "leaflet.css", "images/marker-icon.png"} <= leaflet_files
    assert by_name["echarts"].files["package/dist/echarts.min.js"] == "echarts.min.js"


def test_it_installs_the_listed_files_from_a_mirror_directory_and_records_them(mirror, vendor):
    tarball = make_tarball(GOOD_MEMBERS)
    (mirror / "fakelib-1.2.3.tgz").write_bytes(tarball)
    lines = []
    result = ensure_assets(
        lines.append, packages=[fake_package(tarball)], vendor_dir=vendor, mirror=str(mirror)
    )
    assert result.installed == ["fakelib"]
    assert files_under(vendor) == [
        "fakelib/LICENSE.txt",
        "fakelib/images/pin.png",
        "fakelib/lib.css",
        "fakelib/lib.min.js",
        "manifest.json",
    ]
    assert (vendor / "fakelib/images/pin.png").read_bytes() == PNG
    recorded = assets.installed_packages(vendor)["fakelib"]
    assert recorded["version"] == "1.2.3" and recorded["integrity"] == integrity_of(tarball)
    assert any("sha512 verified" in line for line in lines)


def test_it_refuses_a_tampered_tarball_before_unpacking_anything(mirror, vendor):
    genuine = make_tarball(GOOD_MEMBERS)
    tampered = make_tarball({**GOOD_MEMBERS, "package/dist/lib.min.js": b"steal(document.cookie)"})
    (mirror / "fakelib-1.2.3.tgz").write_bytes(tampered)
    with pytest.raises(AssetError, match="integrity mismatch"):
        ensure_assets(
            lambda line: None,
            packages=[fake_package(genuine)],
            vendor_dir=vendor,
            mirror=str(mirror),
        )
    assert files_under(vendor) == []  # not even the manifest


def test_integrity_is_checked_before_the_file_is_even_read_as_a_tarball(mirror, vendor):
    (mirror / "fakelib-1.2.3.tgz").write_bytes(b"not a tarball at all")
    package = fake_package(make_tarball(GOOD_MEMBERS))
    with pytest.raises(AssetError, match="integrity mismatch"):
        ensure_assets(lambda line: None, packages=[package], vendor_dir=vendor, mirror=str(mirror))


def test_members_outside_the_list_are_never_written_even_when_they_traverse(
    tmp_path, mirror, vendor
):
    tarball = make_tarball(
        {
            **GOOD_MEMBERS,
            "package/../../escaped.js": b"alert(1)",
            "/tmp/absolute-escape.js": b"alert(2)",
            "package/dist/images/../../../../escaped2.js": b"alert(3)",
            "package/dist/unlisted.js": b"alert(4)",
        }
    )
    (mirror / "fakelib-1.2.3.tgz").write_bytes(tarball)
    ensure_assets(
        lambda line: None, packages=[fake_package(tarball)], vendor_dir=vendor, mirror=str(mirror)
    )
    assert "fakelib/lib.min.js" in files_under(vendor)
    assert not any("escape" in name or "unlisted" in name for name in files_under(tmp_path))


def test_a_listed_member_that_is_a_link_is_refused(mirror, vendor):
    members = {k: v for k, v in GOOD_MEMBERS.items() if k != "package/dist/lib.min.js"}
    tarball = make_tarball(members, links=[("package/dist/lib.min.js", "/etc/passwd")])
    (mirror / "fakelib-1.2.3.tgz").write_bytes(tarball)
    with pytest.raises(AssetError, match="not a regular file"):
        ensure_assets(
            lambda line: None,
            packages=[fake_package(tarball)],
            vendor_dir=vendor,
            mirror=str(mirror),
        )
    assert "manifest.json" not in files_under(vendor)


@pytest.mark.parametrize(
    "changes",
    [
        {"files": {"package/dist/lib.min.js": "../../escaped.js"}},
        {"files": {"package/dist/lib.min.js": "/tmp/escaped.js"}},
        {"directory": "../outside"},
    ],
)
def test_a_destination_outside_the_vendor_directory_is_refused(tmp_path, mirror, vendor, changes):
    tarball = make_tarball(GOOD_MEMBERS)
    (mirror / "fakelib-1.2.3.tgz").write_bytes(tarball)
    with pytest.raises(AssetError, match="unsafe destination"):
        ensure_assets(
            lambda line: None,
            packages=[fake_package(tarball, **changes)],
            vendor_dir=vendor,
            mirror=str(mirror),
        )
    assert not any("escaped" in name for name in files_under(tmp_path))


def test_a_tarball_missing_a_listed_file_is_refused(mirror, vendor):
    tarball = make_tarball({k: v for k, v in GOOD_MEMBERS.items() if k != "package/LICENSE"})
    (mirror / "fakelib-1.2.3.tgz").write_bytes(tarball)
    with pytest.raises(AssetError, match="lacks package/LICENSE"):
        ensure_assets(
            lambda line: None,
            packages=[fake_package(tarball)],
            vendor_dir=vendor,
            mirror=str(mirror),
        )


def test_the_second_call_downloads_nothing_until_a_file_goes_missing(mirror, vendor, monkeypatch):
    tarball = make_tarball(GOOD_MEMBERS)
    (mirror / "fakelib-1.2.3.tgz").write_bytes(tarball)
    package = fake_package(tarball)
    fetches = []
    real_fetch = assets._fetch
    monkeypatch.setattr(assets, "_fetch", lambda *a: fetches.append(a[0]) or real_fetch(*a))
    install = functools.partial(
        ensure_assets, lambda line: None, packages=[package], vendor_dir=vendor, mirror=str(mirror)
    )

    assert install().installed == ["fakelib"]
    assert install().present == ["fakelib"]
    assert len(fetches) == 1

    (vendor / "fakelib/lib.css").unlink()
    assert install().installed == ["fakelib"]
    assert install(force=True).installed == ["fakelib"]
    assert len(fetches) == 3


def test_a_new_version_replaces_the_old_one_and_its_files(mirror, vendor):
    old = make_tarball(GOOD_MEMBERS)
    (mirror / "fakelib-1.2.3.tgz").write_bytes(old)
    ensure_assets(
        lambda line: None, packages=[fake_package(old)], vendor_dir=vendor, mirror=str(mirror)
    )
    new_members = {k: v for k, v in GOOD_MEMBERS.items() if k != "package/dist/lib.css"}
    new = make_tarball(new_members)
    (mirror / "fakelib-1.3.0.tgz").write_bytes(new)
    files = {k: v for k, v in fake_package(old).files.items() if k in new_members}
    package = fake_package(
        new,
        version="1.3.0",
        url="https://registry.npmjs.org/fakelib/-/fakelib-1.3.0.tgz",
        files=files,
        stylesheets=(),
    )
    assert ensure_assets(
        lambda line: None, packages=[package], vendor_dir=vendor, mirror=str(mirror)
    ).installed == ["fakelib"]
    assert "fakelib/lib.css" not in files_under(vendor)
    assert assets.installed_packages(vendor)["fakelib"]["version"] == "1.3.0"


@pytest.fixture
def http_mirror(mirror):
    """The mirror directory served over HTTP on the loopback interface."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_it_downloads_from_a_mirror_url_and_names_the_file_when_it_is_missing(
    mirror, vendor, http_mirror
):
    tarball = make_tarball(GOOD_MEMBERS)
    package = fake_package(tarball)
    with pytest.raises(AssetError, match="CIVICGRID_ASSET_MIRROR.*fakelib-1.2.3.tgz"):
        ensure_assets(lambda line: None, packages=[package], vendor_dir=vendor, mirror=http_mirror)
    (mirror / "fakelib-1.2.3.tgz").write_bytes(tarball)
    lines = []
    ensure_assets(lines.append, packages=[package], vendor_dir=vendor, mirror=http_mirror)
    assert lines[0] == f"fakelib 1.2.3: downloading {http_mirror}fakelib-1.2.3.tgz"
    assert (vendor / "fakelib/lib.min.js").read_bytes() == GOOD_MEMBERS["package/dist/lib.min.js"]


def test_save_to_keeps_the_verified_tarballs_for_an_offline_machine(tmp_path, mirror, vendor):
    tarball = make_tarball(GOOD_MEMBERS)
    (mirror / "fakelib-1.2.3.tgz").write_bytes(tarball)
    package = fake_package(tarball)
    ensure_assets(lambda line: None, packages=[package], vendor_dir=vendor, mirror=str(mirror))
    ensure_assets(
        lambda line: None,
        packages=[package],
        vendor_dir=vendor,
        mirror=str(mirror),
        save_to=tmp_path / "carry",
    )
    assert (tmp_path / "carry/fakelib-1.2.3.tgz").read_bytes() == tarball


def test_installed_files_are_served_under_static_vendor(client, mirror, vendor):
    tarball = make_tarball(GOOD_MEMBERS)
    (mirror / "fakelib-1.2.3.tgz").write_bytes(tarball)
    ensure_assets(
        lambda line: None, packages=[fake_package(tarball)], vendor_dir=vendor, mirror=str(mirror)
    )
    with override_settings(STATICFILES_DIRS=[("vendor", vendor)]):
        js = client.get("/static/vendor/fakelib/lib.min.js")
        css = client.get("/static/vendor/fakelib/lib.css")
        png = client.get("/static/vendor/fakelib/images/pin.png")
    assert js.status_code == css.status_code == png.status_code == 200
    assert js["Content-Type"].startswith("text/javascript")
    assert css["Content-Type"].startswith("text/css")
    assert png["Content-Type"] == "image/png"
    assert b"".join(js.streaming_content) == GOOD_MEMBERS["package/dist/lib.min.js"]


def test_the_vendor_tags_point_at_the_static_files():
    html = Template(
        '{% load vendor %}{% vendor_css "leaflet" %}{% vendor_js "htmx.org" %}'
        '{% vendor_js "echarts" %}{% vendor_js "leaflet" %}'
    ).render(Context())
    assert html == (
        '<link rel="stylesheet" href="/static/vendor/leaflet/leaflet.css">'
        '<script src="/static/vendor/htmx/htmx.min.js"></script>'
        '<script src="/static/vendor/echarts/echarts.min.js"></script>'
        '<script src="/static/vendor/leaflet/leaflet.js"></script>'
    )
    with pytest.raises(TemplateSyntaxError, match="no vendored package named 'jquery'"):
        Template('{% load vendor %}{% vendor_js "jquery" %}').render(Context())


# The real packages: installed by the session fixture in civicgrid/conftest.py (the only
# tests here that needed the network, on the first run of this checkout).


def test_the_pinned_packages_are_installed():
    installed = assets.installed_packages()
    for package in PACKAGES:
        assert installed.get(package.name, {}).get("version") == package.version, (
            f"{package.name} is not installed: run `civicgrid fetch_assets`"
        )
        for destination in package.destinations():
            assert (settings.VENDOR_STATIC_DIR / destination).is_file()


@pytest.mark.parametrize(
    "path, content_type, contains",
    [
        ("htmx/htmx.min.js", "text/javascript", b"htmx"),
        ("echarts/echarts.min.js", "text/javascript", b'version="5.'),
        ("leaflet/leaflet.js", "text/javascript", b'version="1.9.4"'),
        ("leaflet/leaflet.css", "text/css", b".leaflet-container"),
        ("leaflet/images/marker-icon.png", "image/png", b"\x89PNG"),
        ("leaflet/LICENSE.txt", "text/plain", b"Volodymyr Agafonkin"),
        ("echarts/NOTICE.txt", "text/plain", b"Apache ECharts"),
    ],
)
def test_the_real_assets_are_served_by_the_app(client, path, content_type, contains):
    response = client.get(f"/static/vendor/{path}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert contains in b"".join(response.streaming_content)


def test_fetch_assets_says_what_is_installed_and_does_nothing_more():
    out = StringIO()
    call_command("fetch_assets", stdout=out)
    for package in PACKAGES:
        assert f"{package.name} {package.version}: already installed" in out.getvalue()
    assert "done: 0 installed, 3 already present" in out.getvalue()
