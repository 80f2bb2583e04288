"""Safe handling of photos attached to case reports.

Grid workers upload photos straight from their phones. Those files carry far more than the
picture: GPS coordinates (often the worker's home), camera make and model, serial numbers,
embedded thumbnails (which may show the photo *before* it was cropped), XMP edit history and
colour profiles. They may also be hostile: a "photo" can be a text file renamed ``.jpg``, a
truncated or malformed file that trips a decoder, or a decompression bomb whose few kilobytes
expand to gigabytes of pixels.

:func:`clean_photo` turns an upload into a :class:`CleanPhoto` that is safe to store and show:

1. the size is checked before anything is decoded (``max_bytes``);
2. the real type is sniffed from the content (magic bytes), never from the file name or the
   client's content type; only JPEG (including phone "MPO" JPEGs), PNG, WebP and GIF (first
   frame) are accepted;
3. the pixel count from the header is checked against :data:`MAX_PIXELS` before any pixel is
   decoded (Pillow's own ``DecompressionBombError`` is mapped to the same rejection);
4. the file is opened and verified, then reopened and fully decoded;
5. the EXIF orientation is applied to the pixels, so the photo looks right once the tag is gone;
6. colours are converted to sRGB (ICC profile applied, then dropped), odd modes (CMYK, palette,
   16-bit grey, LA, ...) are converted, the longer edge is scaled down to :data:`MAX_EDGE`;
7. the picture is re-encoded from bare pixels: JPEG at quality 85, or PNG when the source has
   real transparency.

**Metadata policy** ("EXIF stripped except time"). The output carries no metadata but the
capture time: its only EXIF is a minimal block of two IFDs holding the single tag
DateTimeOriginal (0x9003 / 36867). No GPS, make, model, serial numbers, software, orientation,
thumbnail, maker notes, XMP, IPTC, ICC profile, comments or PNG text chunks survive. The time
written is :attr:`CleanPhoto.taken_at` as wall-clock time in :data:`CAPTURE_TIME_ZONE`
(Asia/Shanghai), which is how EXIF times without an offset are read here, so cleaning a cleaned
photo gives the same ``taken_at``. Photos without a readable capture time get no EXIF at all.

Any error Pillow raises on malformed input becomes :class:`PhotoRejected` with code
``"not_an_image"``; nothing else escapes from :func:`clean_photo` for bad content.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import IO
from zoneinfo import ZoneInfo

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageCms, ImageOps

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # decompression-bomb guard, checked from the header before decoding
MAX_EDGE = 2560  # the longer edge is scaled down to this
JPEG_QUALITY = 85

#: EXIF times carry no time zone unless OffsetTime* is present; phones in the county record
#: local wall-clock time, which is China Standard Time.
CAPTURE_TIME_ZONE = ZoneInfo("Asia/Shanghai")

# EXIF tags (see PIL.ExifTags).
_TAG_DATETIME = 0x0132  # IFD0 DateTime (last modified)
_TAG_EXIF_IFD = 0x8769
_TAG_DATETIME_ORIGINAL = 0x9003  # 36867
_TAG_DATETIME_DIGITIZED = 0x9004
_TAG_OFFSET_TIME = 0x9010
_TAG_OFFSET_TIME_ORIGINAL = 0x9011
_TAG_OFFSET_TIME_DIGITIZED = 0x9012
_EXIF_TIME_FORMAT = "%Y:%m:%d %H:%M:%S"

_ACCEPTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "GIF"}
_HEIF_BRANDS = {
    b"heic",
    b"heix",
    b"hevc",
    b"hevx",
    b"heim",
    b"heis",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
}


def _interpolate(template, params):
    return str(template) % params if params else str(template)


_interpolate_lazy = lazy(_interpolate, str)


class PhotoRejected(ValueError):
    """An upload that cannot be accepted as a photo.

    ``code`` is one of ``"empty"``, ``"too_large"``, ``"not_an_image"``,
    ``"unsupported_type"``, ``"too_many_pixels"``; ``message`` is a lazy, translatable
    string fit to show the user (e.g. ``ValidationError(e.message, code=e.code)``).
    """

    MESSAGES = {
        "empty": _("The photo is empty."),
        "too_large": _("The photo is larger than %(limit)s MB."),
        "not_an_image": _("The file is not a readable image."),
        "unsupported_type": _("Only JPEG, PNG, WebP and GIF images are accepted."),
        "too_many_pixels": _("The photo has more than %(limit)s million pixels."),
    }

    def __init__(self, code: str, **params):
        if code not in self.MESSAGES:
            raise ValueError(f"unknown PhotoRejected code {code!r}")
        self.code = code
        self.params = params
        self.message = _interpolate_lazy(self.MESSAGES[code], params)
        super().__init__(self.message)

    def __repr__(self):
        return f"PhotoRejected({self.code!r})"


@dataclass(frozen=True)
class CleanPhoto:
    content: bytes  # re-encoded JPEG, or PNG if the source has transparency
    content_type: str  # "image/jpeg" | "image/png"
    extension: str  # "jpg" | "png"
    width: int
    height: int
    taken_at: datetime | None  # aware; from EXIF DateTimeOriginal (or Digitized, or DateTime)
    sha256: str  # hex digest of ``content``, for de-duplication


def clean_photo(data: bytes | IO[bytes], *, max_bytes: int = MAX_UPLOAD_BYTES) -> CleanPhoto:
    """Check, decode, strip and re-encode an uploaded photo; raise PhotoRejected if unfit.

    ``data`` is the raw bytes or a binary file-like object (a Django ``UploadedFile`` works:
    its ``size`` is checked before it is read, and it is read from the start).
    """
    raw = _read_limited(data, max_bytes)
    kind = _sniff(raw)

    try:
        # Pass 1: header + verify (PNG checks chunk CRCs here). The file must be reopened
        # after verify(), Pillow cannot decode a verified image.
        with Image.open(io.BytesIO(raw), formats=[kind]) as probe:
            _check_format(probe)
            _check_pixels(probe.size)
            probe.verify()

        # Pass 2: decode for real.
        with Image.open(io.BytesIO(raw), formats=[kind]) as img:
            _check_format(img)
            _check_pixels(img.size)
            if img.format in ("JPEG", "MPO"):
                # Let libjpeg decode big photos at 1/2, 1/4 or 1/8 scale when that still
                # leaves at least the target size: much less memory and time.
                if (target := _target_size(img.size)) != img.size:
                    img.draft(None, target)
            img.load()
            _check_pixels(img.size)
            icc = img.info.get("icc_profile")
            taken_at = _taken_at(img)
            picture = _orient(img)
        picture = _to_output_mode(picture, icc)
        picture = _downscale(picture)
        return _encode(picture, taken_at)
    except PhotoRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise PhotoRejected("too_many_pixels", limit=MAX_PIXELS // 1_000_000) from exc
    except Exception as exc:  # any Pillow/decoder failure on hostile or broken input
        logger.info("photo rejected as not an image: %s: %s", type(exc).__name__, exc)
        raise PhotoRejected("not_an_image") from exc


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _format_mb(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f}" if mb == int(mb) else f"{mb:.1f}"


def _read_limited(data, max_bytes: int) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    elif hasattr(data, "read"):
        size = getattr(data, "size", None)
        if isinstance(size, int) and size > max_bytes:
            raise PhotoRejected("too_large", limit=_format_mb(max_bytes))
        seek = getattr(data, "seek", None)
        if seek is not None:
            try:
                seek(0)
            except (OSError, ValueError):
                pass  # not seekable: read from where it is
        raw = data.read(max_bytes + 1)
        if not isinstance(raw, bytes | bytearray):
            raise TypeError("clean_photo() needs a binary file, got text")
        raw = bytes(raw)
    else:
        raise TypeError(f"clean_photo() needs bytes or a binary file, not {type(data).__name__}")
    if not raw:
        raise PhotoRejected("empty")
    if len(raw) > max_bytes:
        raise PhotoRejected("too_large", limit=_format_mb(max_bytes))
    return raw


def _sniff(raw: bytes) -> str:
    """The Pillow format name of an accepted type, from the magic bytes alone."""
    if raw.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "WEBP"
    if raw[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    # Recognisably an image, but a kind we do not take.
    head = raw[:1024].lstrip().lower()
    if (
        raw.startswith((b"BM", b"II*\x00", b"MM\x00*", b"8BPS", b"\x00\x00\x01\x00", b"\xff\x0a"))
        or raw.startswith((b"\x00\x00\x00\x0cjP  ", b"\x00\x00\x00\x0cJXL "))
        or (raw[4:8] == b"ftyp" and raw[8:12] in _HEIF_BRANDS)
        or (head.startswith((b"<svg", b"<?xml")) and b"<svg" in head)
    ):
        raise PhotoRejected("unsupported_type")
    raise PhotoRejected("not_an_image")


def _check_format(img: Image.Image) -> None:
    if img.format not in _ACCEPTED_FORMATS:
        raise PhotoRejected("unsupported_type")


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise PhotoRejected("not_an_image")
    if width * height > MAX_PIXELS:
        raise PhotoRejected("too_many_pixels", limit=MAX_PIXELS // 1_000_000)


# ---------------------------------------------------------------------------
# Capture time
# ---------------------------------------------------------------------------


def _exif_text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 ").strip()
    return value or None


def _parse_offset(value) -> timezone | None:
    text = _exif_text(value)
    if not text:
        return None
    if text in ("Z", "+00:00", "-00:00"):
        return UTC
    if len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    try:
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _parse_exif_time(value, offset) -> datetime | None:
    text = _exif_text(value)
    if not text:
        return None
    try:
        naive = datetime.strptime(text[:19], _EXIF_TIME_FORMAT)
    except ValueError:
        return None  # "0000:00:00 00:00:00", blanks, garbage: no time rather than a wrong one
    tz = _parse_offset(offset) or CAPTURE_TIME_ZONE
    return naive.replace(tzinfo=tz)


def _taken_at(img: Image.Image) -> datetime | None:
    """Capture time from EXIF: DateTimeOriginal, else DateTimeDigitized, else DateTime."""
    try:
        exif = img.getexif()
        sub = exif.get_ifd(_TAG_EXIF_IFD)
    except Exception:  # broken EXIF: keep the photo, lose the time
        logger.info("photo has unreadable EXIF", exc_info=True)
        return None
    candidates = (
        (_TAG_DATETIME_ORIGINAL, _TAG_OFFSET_TIME_ORIGINAL),
        (_TAG_DATETIME_DIGITIZED, _TAG_OFFSET_TIME_DIGITIZED),
    )
    for tag, offset_tag in candidates:
        # Some writers misplace these tags in IFD0; accept them there too.
        value = sub.get(tag, exif.get(tag))
        offset = sub.get(offset_tag, exif.get(offset_tag))
        if (found := _parse_exif_time(value, offset)) is not None:
            return found
    return _parse_exif_time(exif.get(_TAG_DATETIME), sub.get(_TAG_OFFSET_TIME))


def _minimal_exif(taken_at: datetime | None) -> bytes:
    """EXIF holding only DateTimeOriginal, as wall-clock time in CAPTURE_TIME_ZONE."""
    if taken_at is None:
        return b""
    exif = Image.Exif()
    local = taken_at.astimezone(CAPTURE_TIME_ZONE)
    # Assign the sub-IFD as a dict: Pillow 10 does not write IFDs only filled via get_ifd().
    exif[_TAG_EXIF_IFD] = {_TAG_DATETIME_ORIGINAL: local.strftime(_EXIF_TIME_FORMAT)}
    return exif.tobytes()


# ---------------------------------------------------------------------------
# Pixels
# ---------------------------------------------------------------------------


def _orient(img: Image.Image) -> Image.Image:
    """Apply the EXIF (or XMP) orientation to the pixels; a broken tag means "as stored"."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:
        logger.info("photo orientation unreadable, kept as stored", exc_info=True)
        return img.copy()


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert RGB/RGBA/CMYK pixels from an embedded ICC profile to sRGB, best effort."""
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if img.mode != "CMYK" and "srgb" in ImageCms.getProfileDescription(source).lower():
            return img
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(
            img, source, ImageCms.createProfile("sRGB"), outputMode=out_mode
        )
    except Exception:  # unusable profile: fall back to the plain conversion
        logger.info("photo ICC profile unusable, ignored", exc_info=True)
        return img


def _is_opaque(img: Image.Image) -> bool:
    low, _high = img.getchannel("A").getextrema()
    return low == 255


def _to_output_mode(img: Image.Image, icc: bytes | None) -> Image.Image:
    """One of L, RGB (for JPEG) or LA, RGBA (for PNG, only with real transparency)."""
    img = _to_srgb(img, icc)
    mode = img.mode
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    elif mode == "1":
        img = img.convert("L")
    elif mode.startswith("I;16") or mode == "I":
        # 16-bit grey (PNG): scale 0..65535 down to 0..255 instead of clipping.
        img = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif mode == "F":
        img = img.convert("L")
    elif mode == "La":
        img = img.convert("LA")
    elif mode == "RGBa":
        img = img.convert("RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA"):  # CMYK, YCbCr, RGBX, LAB, HSV, ...
        img = img.convert("RGB")

    if img.mode in ("LA", "RGBA") and _is_opaque(img):
        img = img.convert("L" if img.mode == "LA" else "RGB")
    return img


def _target_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    longest = max(width, height)
    if longest <= MAX_EDGE:
        return width, height
    scale = MAX_EDGE / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _downscale(img: Image.Image) -> Image.Image:
    target = _target_size(img.size)
    if target == img.size:
        return img
    return img.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(img: Image.Image, taken_at: datetime | None) -> CleanPhoto:
    # Save handlers fall back on img.info for comments, ICC profiles, transparency, ...:
    # encode from bare pixels only.
    img.info = {}
    exif = _minimal_exif(taken_at)
    buf = io.BytesIO()
    if img.mode in ("LA", "RGBA"):
        img.save(buf, "PNG", compress_level=6, exif=exif)
        content_type, extension = "image/png", "png"
    else:
        img.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True, exif=exif)
        content_type, extension = "image/jpeg", "jpg"
    content = buf.getvalue()
    return CleanPhoto(
        content=content,
        content_type=content_type,
        extension=extension,
        width=img.width,
        height=img.height,
        taken_at=taken_at,
        sha256=hashlib.sha256(content).hexdigest(),
    )
