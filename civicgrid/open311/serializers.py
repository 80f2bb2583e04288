"""One canonical structure, rendered as GeoReport v2 XML or as its JSON ("Spark convention").

A document is a root element name and a body. Bodies are built from:

* ``dict`` — child elements in order (key = element name);
* :class:`Many` — repeated elements named ``item``; in JSON a plain array;
* scalars — ``str``, ``int``, ``float``, ``bool`` (``true``/``false``), ``datetime`` (W3C
  ISO 8601 with the offset) and ``None`` (an empty element; ``null`` in JSON).

The JSON drops the root wrapper and turns each ``Many`` into an array, which is exactly what
the spec's JSON examples show (``[{...}]`` for services and requests, ``{"service_code": …,
"attributes": [...]}`` for a definition).
"""

import json
import re
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree

from django.http import HttpResponse
from django.utils import timezone

__all__ = ["CONTENT_TYPES", "Document", "Many", "render", "to_json", "to_xml"]

CONTENT_TYPES = {
    "xml": "text/xml; charset=utf-8",
    "json": "application/json; charset=utf-8",
}
# Characters XML 1.0 cannot carry at all (control characters, lone surrogates, non-characters).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Many:
    item: str
    items: list


@dataclass(frozen=True)
class Document:
    root: str
    body: dict | Many


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return w3c_datetime(value)
    return _NOT_XML.sub("", str(value))


def w3c_datetime(value: datetime) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


def _fill(element: ElementTree.Element, value) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            _fill(ElementTree.SubElement(element, name), child)
    elif isinstance(value, Many):
        for child in value.items:
            _fill(ElementTree.SubElement(element, value.item), child)
    else:
        element.text = _text(value)


def to_xml(document: Document) -> bytes:
    root = ElementTree.Element(document.root)
    _fill(root, document.body)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _plain(value):
    if isinstance(value, dict):
        return {name: _plain(child) for name, child in value.items()}
    if isinstance(value, Many):
        return [_plain(child) for child in value.items]
    if isinstance(value, datetime):
        return w3c_datetime(value)
    if isinstance(value, str):
        # The same text as the XML carries, so both formats say the same thing.
        return _NOT_XML.sub("", value)
    return value


def to_json(document: Document) -> bytes:
    return json.dumps(_plain(document.body), ensure_ascii=False, allow_nan=False).encode()


def render(document: Document, fmt: str, *, status: int = 200) -> HttpResponse:
    content = to_xml(document) if fmt == "xml" else to_json(document)
    return HttpResponse(content, status=status, content_type=CONTENT_TYPES[fmt])
