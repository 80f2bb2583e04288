"""Every string shown to people has a Chinese translation, and the compiled catalogue is current."""

import re
from pathlib import Path

from django.utils import translation

PACKAGE = Path(__file__).resolve().parents[2]
# The project's catalogue and each app's own: makemessages puts an app's strings in the
# ``locale`` directory nearest to them.
CATALOGUES = sorted(
    [
        PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po",
        *PACKAGE.glob("*/locale/zh_Hans/LC_MESSAGES/django.po"),
    ]
)


def _entries(po: Path):
    text = po.read_text(encoding="utf-8")
    for block in text.split("\n\n")[1:]:
        if block.lstrip().startswith("#~"):
            continue  # an obsolete entry, kept by gettext for reuse
        msgid = "".join(re.findall(r'^msgid(?:_plural)? "(.*)"$|^"(.*)"$', block, re.M)[0])
        fuzzy = "#, fuzzy" in block
        msgstrs = re.findall(r'^msgstr(?:\[\d\])? "(.*)"((?:\n".*")*)', block, re.M)
        yield msgid, fuzzy, ["".join([a, *re.findall(r'"(.*)"', b)]) for a, b in msgstrs]


def test_it_translates_every_message_into_chinese():
    assert len(CATALOGUES) >= 2
    missing = {
        po.parent.parent.parent.parent.name: msgids
        for po in CATALOGUES
        if (msgids := [msgid for msgid, fuzzy, strs in _entries(po) if fuzzy or not all(strs)])
    }
    assert missing == {}


def test_every_catalogue_is_compiled():
    for po in CATALOGUES:
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo} is missing: msgfmt -o {mo} {po}"


def test_it_serves_the_compiled_catalogue():
    with translation.override("zh-hans"):
        assert translation.gettext("Log in to civicgrid") == "登录 civicgrid"
        assert translation.gettext("Grid leader") == "网格长"
