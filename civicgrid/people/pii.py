"""Validation, encryption, keyed hashing and masking of ID-card and phone numbers (MISSION G2).

Ciphertext uses Fernet (AES-128-CBC + HMAC-SHA256) with ``settings.PII_KEY``; older keys in
``PII_OLD_KEYS`` still decrypt (``civicgrid rotate_pii_key`` re-encrypts everything under the
first key, after which the old ones can be dropped). The search hash is HMAC-SHA256 under a
key derived from ``settings.PII_INDEX_KEY`` — a key of its own that does not rotate with the
encryption keys (it defaults to ``PII_KEY``, from which it was derived before keys could
rotate) — so a database dump reveals neither the number nor a dictionary-attackable hash.
"""

import base64
import datetime
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext_lazy as _

__all__ = [
    "Sealed",
    "blind_index",
    "is_sealed_with_current_key",
    "mask_id_number",
    "mask_numbers_in_text",
    "mask_phone",
    "normalize_id_number",
    "normalize_phone",
    "reveal",
    "reseal",
    "seal",
    "seal_id_number",
    "seal_phone",
]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def id_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def normalize_id_number(value: str) -> str:
    """A valid 18-digit resident ID number (GB 11643), upper-cased, or ValidationError."""
    number = (value or "").strip().upper()
    if not _ID_SHAPE.match(number):
        raise ValidationError(_("An ID number has 17 digits followed by a digit or X."))
    try:
        datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(_("The date of birth in the ID number is not a real date.")) from None
    if id_check_digit(number[:17]) != number[17]:
        raise ValidationError(_("The ID number's check digit is wrong."))
    return number


def normalize_phone(value: str) -> str:
    """A mainland mobile (11 digits) or landline (0574-12345678) number, or ValidationError."""
    phone = re.sub(r"[\s()]", "", (value or "").strip())
    if phone.startswith("+86"):
        phone = phone[3:]
    if _MOBILE.match(phone) or _LANDLINE.match(phone):
        return phone
    raise ValidationError(
        _("Enter a mobile number (11 digits) or a landline such as 0574-62345678.")
    )


_NUMBERS_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|1[3-9]\d{9}|0\d{2,3}-\d{7,8})(?![0-9A-Za-z])"
)


def mask_numbers_in_text(text: str) -> str:
    """Free text for publication with ID and phone numbers masked (a caller's number written
    into a description, say)."""

    def mask(match: re.Match) -> str:
        value = match.group(0)
        return mask_id_number(value.upper()) if len(value) == 18 else mask_phone(value)

    return _NUMBERS_IN_TEXT.sub(mask, text or "")


def mask_name(name: str) -> str:
    """张三 → 张*: the family name only, for roles that do not see personal data."""
    name = str(name or "")
    return f"{name[0]}{'*' * max(1, len(name) - 1)}" if name else ""


def mask_id_number(number: str) -> str:
    return f"{number[:6]}********{number[-4:]}" if len(number) == 18 else "*" * len(number)


def mask_phone(phone: str) -> str:
    if _MOBILE.match(phone):
        return f"{phone[:3]}****{phone[-4:]}"
    return phone[:-4].rstrip("-")[:4] + "****" + phone[-2:] if len(phone) > 6 else "****"


@lru_cache(maxsize=4)
def _fernet(key: str, old_keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in (key, *old_keys)])


@lru_cache(maxsize=4)
def _index_key(key: str) -> bytes:
    return hmac.new(base64.urlsafe_b64decode(key), b"civicgrid blind index v1", "sha256").digest()


@lru_cache(maxsize=4)
def _current(key: str) -> Fernet:
    return Fernet(key.encode())


def _crypto() -> MultiFernet:
    return _fernet(settings.PII_KEY, tuple(settings.PII_OLD_KEYS))


def _index_secret() -> str:
    # Not rotated with the encryption keys: the hashes in the database were made with it.
    return getattr(settings, "PII_INDEX_KEY", "") or settings.PII_KEY


def blind_index(kind: str, value: str) -> str:
    """Keyed hash for exact-match lookup; ``kind`` separates ID numbers from phones."""
    key = _index_key(_index_secret())
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Sealed:
    cipher: str
    hash: str
    masked: str


def seal(kind: str, value: str, masked: str) -> Sealed:
    return Sealed(
        cipher=_crypto().encrypt(value.encode()).decode(),
        hash=blind_index(kind, value),
        masked=masked,
    )


def seal_id_number(value: str) -> Sealed:
    number = normalize_id_number(value)
    return seal("id", number, mask_id_number(number))


def seal_phone(value: str) -> Sealed:
    phone = normalize_phone(value)
    return seal("phone", phone, mask_phone(phone))


def is_sealed_with_current_key(cipher: str) -> bool:
    """Was ``cipher`` encrypted under the first key (empty values count as current)?"""
    if not cipher:
        return True
    try:
        _current(settings.PII_KEY).decrypt(cipher.encode())
    except InvalidToken:
        return False
    return True


def reseal(cipher: str) -> str:
    """The same clear text encrypted under the first key (any listed key may have sealed it)."""
    if not cipher:
        return cipher
    try:
        return _crypto().rotate(cipher.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "CIVICGRID_PII_KEYS: a stored value cannot be decrypted with any listed key"
        ) from None


def reveal(cipher: str) -> str:
    """Clear text of a sealed value ("" if empty). Callers audit the access (see selectors)."""
    if not cipher:
        return ""
    try:
        return _crypto().decrypt(cipher.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "CIVICGRID_PII_KEY: stored personal data cannot be decrypted with this key "
            "(list the previous keys after the new one in CIVICGRID_PII_KEYS until "
            "rotate_pii_key has run)"
        ) from None
