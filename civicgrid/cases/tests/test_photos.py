"""Photo uploads: type sniffing, size and pixel limits, metadata stripping, re-encoding."""

import io
import struct
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.functional import Promise
from PIL import ExifTags, Image, ImageCms

from civicgrid.cases.photos import (
    CAPTURE_TIME_ZONE,
    MAX_EDGE,
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    CleanPhoto,
    PhotoRejected,
    clean_photo,
)

GPS = ExifTags.IFD.GPSInfo  # 0x8825
EXIF_IFD = ExifTags.IFD.Exif  # 0x8769
MAKE, MODEL, ORIENTATION, DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 36867, 36881

RED, BLUE = (220, 20, 20), (20, 20, 220)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _encode(img, fmt, **params):
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _two_tone(size=(40, 20)):
    """Left half red, right half blue: shows where the stored left edge ends up."""
    img = Image.new("RGB", size, BLUE)
    img.paste(RED, (0, 0, size[0] // 2, size[1]))
    return img


def _phone_exif(*, orientation=6, taken="2024:03:05 14:15:16", offset=None):
    exif = Image.Exif()
    exif[MAKE] = "Canon"
    exif[MODEL] = "EOS R5 SECRET-MODEL"
    exif[ORIENTATION] = orientation
    exif[0x0131] = "PhoneEditor 9.9"  # Software
    exif[DATETIME] = "2024:12:31 23:59:59"  # modified, not taken
    # Sub-IFDs assigned as dicts: Pillow 10 does not write IFDs only filled via get_ifd().
    sub = {DATETIME_ORIGINAL: taken, 0xA431: "SERIAL-0042"}  # 0xA431 BodySerialNumber
    if offset:
        sub[OFFSET_TIME_ORIGINAL] = offset
    exif[EXIF_IFD] = sub
    exif[GPS] = {1: "N", 2: (30.0, 3.0, 25.5), 3: "E", 4: (121.0, 9.0, 33.25)}  # 0x8825
    return exif


def _app1_xmp(xmp):
    """An XMP APP1 segment, written by hand (Pillow < 11 has no ``xmp=`` for JPEG)."""
    body = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def _phone_jpeg(**kwargs):
    return _encode(
        _two_tone(),
        "JPEG",
        exif=_phone_exif(**kwargs),
        extra=_app1_xmp(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/>SECRET-XMP</x:xmpmeta>'),
        comment=b"SECRET-COMMENT",
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    )


def _jpeg_segments(data):
    """The marker bytes of the segments before the image data (SOS)."""
    assert data[:2] == b"\xff\xd8"
    pos, markers = 2, []
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: metadata is all before it
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        markers.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    return markers


def _png_chunks(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return chunks


def _png_with_ihdr_size(width, height):
    """A tiny valid PNG whose IHDR (with a recomputed CRC) claims width × height."""
    data = bytearray(_encode(Image.new("1", (8, 8)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _open(photo: CleanPhoto):
    img = Image.open(io.BytesIO(photo.content))
    img.load()
    return img


def _rejected(data, **kwargs) -> PhotoRejected:
    with pytest.raises(PhotoRejected) as info:
        clean_photo(data, **kwargs)
    return info.value


# ---------------------------------------------------------------------------
# Metadata
# ---------------------------------------------------------------------------


def test_it_strips_gps_make_model_and_keeps_only_the_capture_time():
    raw = _phone_jpeg()
    assert b"Canon" in raw and b"SECRET-XMP" in raw  # the fixture really carries them
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS)[1] == "N"

    photo = clean_photo(raw)

    assert photo.content_type == "image/jpeg" and photo.extension == "jpg"
    img = _open(photo)
    assert img.format == "JPEG"
    exif = img.getexif()
    assert dict(exif) == {EXIF_IFD: exif[EXIF_IFD]}  # IFD0 holds only the Exif IFD pointer
    assert dict(exif.get_ifd(EXIF_IFD)) == {DATETIME_ORIGINAL: "2024:03:05 14:15:16"}
    assert not exif.get_ifd(GPS)
    assert not exif.get_ifd(ExifTags.IFD.IFD1)  # no thumbnail
    for secret in (b"Canon", b"SECRET", b"PhoneEditor", b"2024:12:31", b"N\x00", b"http://ns"):
        assert secret not in photo.content
    assert "icc_profile" not in img.info and "xmp" not in img.info and "comment" not in img.info
    # Only JFIF (APP0) and the minimal EXIF (APP1) precede the image data.
    segments = _jpeg_segments(photo.content)
    assert [m for m, _ in segments if 0xE0 <= m <= 0xEF or m == 0xFE] == [0xE0, 0xE1]
    (exif_body,) = [body for m, body in segments if m == 0xE1]
    assert len(exif_body) < 80  # header, two one-entry IFDs and a 20-byte date: no room left


def test_it_reads_the_capture_time_as_shanghai_time_without_an_offset():
    photo = clean_photo(_phone_jpeg())

    assert photo.taken_at == datetime(2024, 3, 5, 14, 15, 16, tzinfo=CAPTURE_TIME_ZONE)
    assert photo.taken_at.utcoffset() == timedelta(hours=8)
    assert photo.taken_at.astimezone(UTC) == datetime(2024, 3, 5, 6, 15, 16, tzinfo=UTC)


def test_it_uses_offset_time_original_when_present():
    photo = clean_photo(_phone_jpeg(taken="2024:03:05 09:00:00", offset="+09:00"))

    assert photo.taken_at == datetime(2024, 3, 5, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    # Written back as Shanghai wall-clock time, so re-reading gives the same instant.
    written = _open(photo).getexif().get_ifd(EXIF_IFD)
    assert written == {DATETIME_ORIGINAL: "2024:03:05 08:00:00"}
    assert clean_photo(photo.content).taken_at == photo.taken_at


def test_it_falls_back_to_datetime_and_ignores_bad_times():
    exif = Image.Exif()
    exif[DATETIME] = "2023:11:02 08:30:00"
    photo = clean_photo(_encode(_two_tone(), "JPEG", exif=exif))
    assert photo.taken_at == datetime(2023, 11, 2, 8, 30, tzinfo=CAPTURE_TIME_ZONE)

    exif = Image.Exif()
    exif[EXIF_IFD] = {DATETIME_ORIGINAL: "0000:00:00 00:00:00"}
    photo = clean_photo(_encode(_two_tone(), "JPEG", exif=exif))
    assert photo.taken_at is None
    assert b"Exif" not in photo.content  # no time, no EXIF at all


def test_it_writes_no_exif_when_the_photo_has_no_time():
    photo = clean_photo(_encode(_two_tone(), "JPEG"))

    assert photo.taken_at is None
    assert not _open(photo).getexif()
    assert all(m != 0xE1 for m, _ in _jpeg_segments(photo.content))


def test_it_applies_the_exif_orientation_before_stripping_it():
    photo = clean_photo(_phone_jpeg(orientation=6))

    # Stored 40×20, Orientation 6 = "rotate 90° clockwise to display": shown 20×40.
    assert (photo.width, photo.height) == (20, 40)
    img = _open(photo)
    assert img.size == (20, 40)
    assert ORIENTATION not in img.getexif()
    # The stored left half (red) is now on top, the right half (blue) at the bottom.
    top, bottom = img.getpixel((10, 5)), img.getpixel((10, 35))
    assert top[0] > 150 and top[2] < 100
    assert bottom[2] > 150 and bottom[0] < 100


def test_it_strips_png_text_chunks_and_profiles():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "SECRET-TEXT")
    info.add_itxt("XML:com.adobe.xmp", "SECRET-XMP")
    img = Image.new("RGBA", (30, 30), (0, 128, 0, 0))
    img.paste((0, 128, 0, 255), (0, 0, 15, 30))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    raw = _encode(img, "PNG", pnginfo=info, icc_profile=icc, exif=_phone_exif(orientation=1))

    photo = clean_photo(raw)

    assert photo.content_type == "image/png"
    assert b"SECRET" not in photo.content and b"Canon" not in photo.content
    chunks = _png_chunks(photo.content)
    assert set(chunks) <= {b"IHDR", b"IDAT", b"IEND", b"eXIf"}
    exif = _open(photo).getexif()
    assert dict(exif.get_ifd(EXIF_IFD)) == {DATETIME_ORIGINAL: "2024:03:05 14:15:16"}
    assert not exif.get_ifd(GPS)


# ---------------------------------------------------------------------------
# Formats and modes
# ---------------------------------------------------------------------------


def test_it_keeps_a_png_with_transparency_as_png():
    img = Image.new("RGBA", (64, 48), (255, 0, 0, 0))
    img.paste((255, 0, 0, 255), (0, 0, 32, 48))

    photo = clean_photo(_encode(img, "PNG"))

    assert (photo.content_type, photo.extension) == ("image/png", "png")
    out = _open(photo)
    assert out.format == "PNG" and out.mode == "RGBA" and out.size == (64, 48)
    assert out.getpixel((5, 5))[3] == 255 and out.getpixel((60, 5))[3] == 0


def test_it_turns_an_opaque_png_into_a_jpeg():
    photo = clean_photo(_encode(Image.new("RGBA", (64, 48), (10, 200, 10, 255)), "PNG"))

    assert (photo.content_type, photo.extension) == ("image/jpeg", "jpg")
    assert _open(photo).mode == "RGB"


def test_it_accepts_webp_and_the_first_frame_of_a_gif():
    webp = clean_photo(_encode(_two_tone(), "WEBP", quality=90))
    assert webp.content_type == "image/jpeg" and (webp.width, webp.height) == (40, 20)

    frames = [Image.new("P", (16, 16), 0), Image.new("P", (16, 16), 1)]
    for frame in frames:
        frame.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    gif = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    photo = clean_photo(gif)
    assert photo.content_type == "image/jpeg"
    assert _open(photo).getpixel((8, 8))[0] > 200  # frame 0 is red


def test_it_converts_palette_transparency_cmyk_and_16_bit_grey():
    pal = Image.new("P", (16, 16), 1)
    pal.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    pal.paste(0, (0, 0, 8, 16))
    photo = clean_photo(_encode(pal, "PNG", transparency=0))
    assert photo.content_type == "image/png" and _open(photo).mode == "RGBA"

    cmyk = clean_photo(_encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG"))
    out = _open(cmyk)
    assert cmyk.content_type == "image/jpeg" and out.mode == "RGB"
    red, green, blue = out.getpixel((8, 8))
    assert red > 200 and green < 60 and blue < 60

    grey = clean_photo(_encode(Image.new("I;16", (16, 16), 40000), "PNG"))
    out = _open(grey)
    assert grey.content_type == "image/jpeg" and out.mode == "L"
    assert abs(out.getpixel((8, 8)) - 156) <= 2  # scaled, not clipped to white

    la = clean_photo(_encode(Image.new("LA", (16, 16), (100, 128)), "PNG"))
    assert la.content_type == "image/png" and _open(la).mode == "LA"


def test_it_accepts_a_multi_picture_phone_jpeg():
    raw = _encode(_two_tone(), "MPO", save_all=True, append_images=[Image.new("RGB", (8, 8))])
    assert Image.open(io.BytesIO(raw)).format == "MPO"

    photo = clean_photo(raw)

    assert photo.content_type == "image/jpeg" and (photo.width, photo.height) == (40, 20)
    assert photo.content.count(b"\xff\xd8") == 1  # the second picture is gone


# ---------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------


def test_it_downscales_the_longer_edge_to_max_edge():
    wide = clean_photo(_encode(_two_tone((5120, 1000)), "JPEG", quality=50))
    assert (wide.width, wide.height) == (MAX_EDGE, 500)
    assert _open(wide).size == (MAX_EDGE, 500)

    tall = clean_photo(_encode(Image.new("RGB", (1000, 6000), "white"), "PNG"))
    assert (tall.width, tall.height) == (427, MAX_EDGE)

    small = clean_photo(_encode(_two_tone((300, 200)), "JPEG"))
    assert (small.width, small.height) == (300, 200)


def test_it_rejects_a_too_large_payload_before_decoding():
    assert _rejected(b"\xff\xd8\xff" + b"\x00" * MAX_UPLOAD_BYTES).code == "too_large"

    raw = _phone_jpeg()
    assert _rejected(raw, max_bytes=len(raw) - 1).code == "too_large"
    assert clean_photo(raw, max_bytes=len(raw)).width == 20

    class Huge(io.BytesIO):
        size = MAX_UPLOAD_BYTES + 1

        def read(self, *args):
            raise AssertionError("read a file whose size is over the limit")

    error = _rejected(Huge(b""))
    assert error.code == "too_large"
    with translation.override("en"):
        assert str(error) == "The photo is larger than 10 MB."


def test_it_rejects_an_empty_upload():
    assert _rejected(b"").code == "empty"
    assert _rejected(io.BytesIO()).code == "empty"


def test_it_rejects_a_decompression_bomb_from_the_header():
    bomb = _png_with_ihdr_size(100_000, 100_000)
    assert len(bomb) < 200

    error = _rejected(bomb)

    assert error.code == "too_many_pixels"
    with translation.override("en"):
        assert str(error) == "The photo has more than 40 million pixels."


def test_it_rejects_images_over_max_pixels_below_pillows_own_limit():
    # 8000 × 6000 = 48 MP: over our limit, under Pillow's (89 MP); a 1-bit PNG is a few KB.
    assert 8000 * 6000 > MAX_PIXELS
    raw = _encode(Image.new("1", (8000, 6000)), "PNG")
    assert len(raw) < 20_000

    assert _rejected(raw).code == "too_many_pixels"
    assert _rejected(_png_with_ihdr_size(8000, 6000)).code == "too_many_pixels"


# ---------------------------------------------------------------------------
# Hostile and broken content
# ---------------------------------------------------------------------------


def test_it_rejects_a_text_file_named_jpg():
    upload = SimpleUploadedFile("photo.jpg", b"just some text\n" * 10, content_type="image/jpeg")

    error = _rejected(upload)

    assert error.code == "not_an_image"
    assert isinstance(error, ValueError)
    assert isinstance(error.message, Promise)  # lazy, translated when shown
    with translation.override("en"):
        assert str(error) == "The file is not a readable image."


def test_it_ignores_the_file_name_and_content_type_of_a_real_photo():
    upload = SimpleUploadedFile("notes.txt", _phone_jpeg(), content_type="text/plain")
    upload.read(10)  # already partly read, e.g. by a form validator

    photo = clean_photo(upload)

    assert photo.content_type == "image/jpeg" and (photo.width, photo.height) == (20, 40)


def test_it_rejects_a_truncated_jpeg():
    raw = _encode(_two_tone((400, 300)), "JPEG")

    assert _rejected(raw[: len(raw) // 2]).code == "not_an_image"
    assert _rejected(raw[:200]).code == "not_an_image"
    assert _rejected(raw[:3]).code == "not_an_image"


def test_it_rejects_a_png_with_a_bad_crc_or_garbage_data():
    raw = bytearray(_encode(_two_tone(), "PNG"))
    idat = raw.index(b"IDAT")
    raw[idat + 10] ^= 0xFF
    assert _rejected(bytes(raw)).code == "not_an_image"

    assert _rejected(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).code == "not_an_image"
    assert _rejected(b"RIFF\x10\x00\x00\x00WEBPVP8 garbage").code == "not_an_image"
    assert _rejected(b"GIF89a\xff\xff\xff\xff").code == "not_an_image"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"BM" + b"\x00" * 60, id="bmp"),
        pytest.param(b"II*\x00" + b"\x00" * 60, id="tiff"),
        pytest.param(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", id="heic"),
        pytest.param(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', id="svg"),
    ],
)
def test_it_rejects_other_image_types_as_unsupported(raw):
    assert _rejected(raw).code == "unsupported_type"


def test_it_rejects_a_real_bmp_even_though_pillow_could_read_it():
    assert _rejected(_encode(_two_tone(), "BMP")).code == "unsupported_type"


@pytest.mark.filterwarnings("ignore:Truncated File Read")  # Pillow warns on broken EXIF
def test_it_never_lets_a_pillow_error_escape_on_mangled_jpegs():
    raw = _phone_jpeg()
    for start in range(2, len(raw), max(1, len(raw) // 60)):
        mangled = bytearray(raw)
        mangled[start : start + 8] = b"\xff\x00\xff\xd9\x00\xff\xc0\xff"[: len(mangled) - start]
        try:
            clean_photo(bytes(mangled))
        except PhotoRejected as error:
            assert error.code == "not_an_image"


# ---------------------------------------------------------------------------
# De-duplication
# ---------------------------------------------------------------------------


def test_it_gives_the_same_photo_the_same_sha256():
    raw = _phone_jpeg()

    first, second = clean_photo(raw), clean_photo(io.BytesIO(raw))

    assert first.sha256 == second.sha256
    assert first.content == second.content
    assert len(first.sha256) == 64
    other = clean_photo(_phone_jpeg(taken="2024:03:05 14:15:17"))
    assert other.sha256 != first.sha256


def test_it_rejects_unknown_codes_and_bad_arguments():
    with pytest.raises(ValueError):
        PhotoRejected("nope")
    with pytest.raises(TypeError):
        clean_photo("not bytes")
