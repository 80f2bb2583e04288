"""The import engine: rows → checked records → what would change → (in one transaction) writes.

``plan`` reads the whole file once, in batches of ``BATCH`` rows: it maps columns to fields,
checks each value, places the row (grid code, coordinates or address → grid and region code),
checks the importer's scope, and looks the batch's keys up in the database with one query
(ID-number blind index, credit code, house code, external number …) and in the rows seen
before in the same file. Nothing is written. ``apply`` writes a plan with ``bulk_create`` /
``bulk_update`` inside the caller's transaction, after looking up once more that the keys of
new records are still new.

No personal data leaves this module in clear: the sample and the problems keep ID and phone
numbers masked, and only the sealed forms (``people.pii``) are written.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from django.core.exceptions import ValidationError
from django.db import connection, models
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core.scoping import can
from civicgrid.datahub.fields import CHOICE_WORDS, fields_of
from civicgrid.datahub.models import EXTERNAL_TARGETS, ExternalRecord, OnDuplicate, Target
from civicgrid.datahub.reading import Table, cell_text
from civicgrid.people import pii
from civicgrid.people.models import House, KeyGroup, Organisation, Person, PersonKeyGroup, Place
from civicgrid.regions.models import Grid, Region

__all__ = [
    "BATCH",
    "Conflict",
    "Plan",
    "Problem",
    "apply",
    "credit_code_check_char",
    "normalise_credit_code",
    "plan",
]

BATCH = 2000
MAX_ROWS = 2_000_000  # a county's population with room; beyond it a file is refused
SAMPLE_PER_ACTION = 10
MAX_PROBLEMS = 50_000
PERMISSION = "datahub.import"

# --------------------------------------------------------------------------- values

_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def credit_code_check_char(first17: str) -> str:
    """GB 32100-2015: the 18th character of a unified social credit code."""
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def normalise_credit_code(value: str) -> str:
    code = unicodedata.normalize("NFKC", value or "").strip().upper()
    if not _CREDIT_SHAPE.match(code):
        raise ValidationError(
            _(
                "A unified social credit code has 18 characters "
                "(digits and capitals, no I, O, S, V, Z)."
            )
        )
    if credit_code_check_char(code[:17]) != code[17]:
        raise ValidationError(_("The credit code's check character is wrong."))
    return code


_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_DATETIME_RE = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]*(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?$"
)
_CLOCK_WORDS = str.maketrans({"时": ":", "点": ":", "分": ":", "秒": None})


def parse_date(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    match = _DATE_RE.match(text)
    try:
        if match:
            return datetime.date(*(int(g) for g in match.groups()))
    except ValueError:
        pass
    raise ValidationError(_("Not a date (write it as 2024-05-31)."))


def parse_datetime(value) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d{14}", text):
            text = f"{text[:4]}-{text[4:6]}-{text[6:8]} {text[8:10]}:{text[10:12]}:{text[12:]}"
        elif re.fullmatch(r"\d{8}", text):
            text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
        match = _DATETIME_RE.match(text.translate(_CLOCK_WORDS).rstrip(":"))
        try:
            if not match:
                raise ValueError
            moment = datetime.datetime(*(int(g or 0) for g in match.groups()))
        except ValueError:
            raise ValidationError(
                _("Not a date and time (write it as 2024-05-31 14:30).")
            ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def parse_coordinate(value, *, low: float, high: float) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValidationError(_("Not a number.")) from None
    if not low <= number <= high:
        raise ValidationError(_("Out of range (%(low)s to %(high)s).") % {"low": low, "high": high})
    return number


def parse_choice(target: str, name: str, value: str) -> str:
    words = CHOICE_WORDS[(target, name)]
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    for code, names in words.items():
        if text == code or text in names:
            return code
    for code, names in words.items():
        if any(len(n) >= 2 and n in text for n in names):
            return code
    raise ValidationError(
        _("Unknown value; use one of: %s") % "、".join(n[0] for n in words.values())
    )


def masked(name: str, value) -> str:
    text = cell_text(value)
    if not text:
        return ""
    if name == "id_number":
        return pii.mask_id_number(text.upper()) if len(text) == 18 else "*" * len(text)
    if name == "phone":
        return pii.mask_phone(text)
    return text[:200]


# --------------------------------------------------------------------------- places


def normalise_address(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


class Placer:
    """Grid code, coordinates or address → (grid, region code, house). The address rule is in
    ``docs/datahub.md``: a house with the same normalised address, else the village or
    community named (its grid if it has only one), else the township named."""

    AMBIGUOUS = object()

    def __init__(self, datum: str = "wgs84"):
        from civicgrid.regions.selectors import get_locator

        self.datum = datum
        self.grids = {
            code: (pk, kind)
            for code, pk, kind in Grid.objects.filter(active=True).values_list("code", "pk", "kind")
        }
        self.locator = get_locator()
        regions = list(Region.objects.values_list("code", "name", "level", "parent__name"))
        self.county_names = [name for _c, name, level, _p in regions if level == "county"]
        self.town_names = {}
        self.names: dict[str, list] = {}  # first character → [(name, [(code, town name)])]
        by_name: dict[str, list] = {}
        for code, name, level, parent_name in regions:
            if level == Region.Level.TOWN:
                self.town_names.setdefault(name, []).append(code)
            elif level == Region.Level.VILLAGE:
                by_name.setdefault(name, []).append((code, parent_name or ""))
        for name, places in by_name.items():
            self.names.setdefault(name[0], []).append((name, places))
        for entries in self.names.values():
            entries.sort(key=lambda e: -len(e[0]))
        single: dict[str, list[str]] = {}
        for code, kind in ((c, k) for c, (_pk, k) in self.grids.items()):
            if kind == Grid.Kind.BASIC:
                single.setdefault(code[:12], []).append(code)
        self.only_grid = {village: codes[0] for village, codes in single.items() if len(codes) == 1}
        self._houses: dict[str, object] | None = None

    # -- addresses

    def _village_at(self, text: str):
        for i, char in enumerate(text):
            for name, places in self.names.get(char, ()):
                if text.startswith(name, i):
                    return i, name, places
        return None

    def address_key(self, address: str) -> tuple[str, tuple | None]:
        """(normalised address, (village position, name, places) or None)."""
        text = normalise_address(address)
        for county in self.county_names:
            at = text.find(county)
            if at >= 0:
                text = text[at + len(county) :]
                break
        found = self._village_at(text)
        if found is not None:
            return text[found[0] :], found
        for town in self.town_names:
            if text.startswith(town):
                return text[len(town) :], None
        return text, None

    def houses(self) -> dict[str, object]:
        """Normalised address → (grid code, house id), or AMBIGUOUS (houses in two grids)."""
        if self._houses is None:
            index: dict[str, object] = {}
            for address, grid_code, pk in House.objects.values_list("address", "region_code", "pk"):
                key = self.address_key(address)[0]
                seen = index.get(key)
                if seen is None:
                    index[key] = (grid_code, pk)
                elif seen is not self.AMBIGUOUS and seen[0] != grid_code:
                    index[key] = self.AMBIGUOUS
            self._houses = index
        return self._houses

    def by_address(self, address: str):
        """(grid code or None, region code or None, house id or None, problem or None)."""
        key, village = self.address_key(address)
        house = self.houses().get(key)
        if house is not None and house is not self.AMBIGUOUS:
            return house[0], house[0], house[1], None
        if village is not None:
            position, name, places = village
            if len(places) > 1:
                before = normalise_address(address)
                places = [p for p in places if p[1] and p[1] in before] or places
            if len(places) > 1:
                return None, None, None, _("%s names villages in several townships") % name
            village_code = places[0][0]
            grid_code = self.only_grid.get(village_code)
            return grid_code, grid_code or village_code, None, None
        text = normalise_address(address)
        for county in self.county_names:
            at = text.find(county)
            if at >= 0:
                text = text[at + len(county) :]
        for town, codes in self.town_names.items():
            if text.startswith(town) and len(codes) == 1:
                return None, codes[0], None, None
        return None, None, None, _("no house, village or township of this address is known")

    def by_points(self, points: list[tuple[float, float]]) -> list[str | None]:
        if not points:
            return []
        lats = [p[0] for p in points]
        lngs = [p[1] for p in points]
        return self.locator.locate_many(lats, lngs, datum=self.datum).tolist()


# --------------------------------------------------------------------------- plan


@dataclass
class Problem:
    row: int
    field: str
    column: str
    value: str
    message: str


class Conflict(Exception):
    """Records appeared between the check and the write: run the dry run again."""


@dataclass
class Plan:
    target: str
    counts: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    problem_rows: set = field(default_factory=set)
    sample: list[dict] = field(default_factory=list)
    rows_total: int = 0
    new: list[dict] = field(default_factory=list)  # records to create
    updates: dict = field(default_factory=dict)  # existing pk → {field: value}
    seconds: float = 0.0

    @property
    def error_rows(self) -> int:
        return len(self.problem_rows)


_PLACED = {
    Target.POPULATION,
    Target.HOUSES,
    Target.ORGANISATIONS,
    Target.PLACES,
    *EXTERNAL_TARGETS,
}
_GRID_REQUIRED = {Target.HOUSES, Target.ORGANISATIONS, Target.PLACES}


class Planner:
    def __init__(self, *, source, mapping: dict, actor):
        self.source = source
        self.target = mapping["target"]
        self.columns = mapping.get("columns") or {}
        self.defaults = mapping.get("defaults") or {}
        self.on_duplicate = mapping.get("on_duplicate") or OnDuplicate.UPDATE
        self.actor = actor
        self.header: list[str] = []
        self.specs = fields_of(self.target)
        self.placer = Placer(mapping.get("datum") or "wgs84") if self.target in _PLACED else None
        self._scope: dict[str, bool] = {}
        self.seen: dict = {}  # key → index in plan.new, or ("update", pk), or row number
        self.key_groups = None
        if self.target == Target.KEY_GROUPS:
            self.key_groups = {}
            for pk, code, name in KeyGroup.objects.values_list("pk", "code", "name"):
                self.key_groups[code.lower()] = pk
                self.key_groups[name] = pk

    def in_scope(self, code: str) -> bool:
        allowed = self._scope.get(code)
        if allowed is None:
            allowed = self._scope[code] = can(self.actor, PERMISSION, region_code=code)
        return allowed

    # -- reading one row

    def bind(self, header: list[str]) -> None:
        """Resolve the mapping against the file's header once: (field, index, default)."""
        self.header = header
        index_of: dict[str, int] = {}
        for index, name in enumerate(header):
            index_of.setdefault(name, index)
        self.slots = []
        for spec in self.specs:
            column = self.columns.get(spec.name)
            if column and column not in index_of:
                raise ValidationError(
                    _("The file has no column %(column)s (mapped to %(field)s).")
                    % {"column": column, "field": spec.label}
                )
            index = index_of.get(column) if column else None
            self.slots.append((spec.name, index, self.defaults.get(spec.name) or None))

    def raw_values(self, cells: list) -> dict:
        values = {}
        size = len(cells)
        for name, index, default in self.slots:
            value = cells[index] if index is not None and index < size else None
            if default is not None and (
                value is None or (isinstance(value, str) and not value.strip())
            ):
                value = default
            values[name] = value
        return values

    def clean(self, values: dict) -> tuple[dict, list[tuple[str, str]]]:
        record, problems = {}, []
        for spec in self.specs:
            value = values.get(spec.name)
            text = "" if isinstance(value, (datetime.date, datetime.datetime)) else cell_text(value)
            empty = value is None or (
                text == "" and not isinstance(value, (datetime.date, datetime.datetime))
            )
            if empty:
                if spec.required:
                    problems.append((spec.name, _("required")))
                continue
            try:
                record[spec.name] = self._clean_value(spec, value, text)
            except ValidationError as exc:
                problems.append((spec.name, " ".join(exc.messages)))
        if "lat" in record and "lng" not in record or "lng" in record and "lat" not in record:
            problems.append(("lat", _("give both latitude and longitude")))
            record.pop("lat", None)
            record.pop("lng", None)
        return record, problems

    def _clean_value(self, spec, value, text: str):
        kind = spec.kind
        if kind == "text":
            if len(text) > spec.max_length:
                raise ValidationError(_("longer than %d characters") % spec.max_length)
            return text
        if kind == "id_number":
            if isinstance(value, float) or (isinstance(value, int) and len(text) != 18):
                raise ValidationError(
                    _("the ID number was stored as a number in Excel; format the column as text")
                )
            return pii.normalize_id_number(text)
        if kind == "phone":
            return pii.normalize_phone(text)
        if kind == "date":
            return parse_date(value)
        if kind == "datetime":
            return parse_datetime(value)
        if kind == "coordinate":
            return (
                parse_coordinate(text, low=-90, high=90)
                if spec.name == "lat"
                else parse_coordinate(text, low=-180, high=180)
            )
        if kind == "choice":
            return parse_choice(self.target, spec.name, text)
        if kind == "grid":
            grid = self.placer.grids.get(text)
            if grid is None:
                raise ValidationError(_("no grid has this code"))
            if grid[1] == Grid.Kind.MICRO:
                raise ValidationError(_("a micro-grid: give the grid's code"))
            return text
        if kind == "credit_code":
            return normalise_credit_code(text)
        if kind == "key_group":
            pk = self.key_groups.get(text) or self.key_groups.get(text.lower())
            if pk is None:
                raise ValidationError(_("no key group has this code or name"))
            return pk
        raise AssertionError(kind)


def plan(table: Table, *, source, mapping: dict, actor, progress=None) -> Plan:
    """What importing ``table`` would do (the dry run, and the first half of the import).
    Records carry blind indexes only; ID and phone numbers are sealed when written."""
    started = time.perf_counter()
    planner = Planner(source=source, mapping=mapping, actor=actor)
    planner.bind(table.header)
    handler = HANDLERS[planner.target](planner)
    result = Plan(target=planner.target)
    batch: list = []
    total = max(table.total, 1)

    def flush():
        handler.batch(batch, result)
        result.rows_total += len(batch)
        batch.clear()
        if progress is not None:
            progress(result.rows_total, max(total, result.rows_total))

    for number, cells in table.rows:
        if result.rows_total + len(batch) >= MAX_ROWS:
            raise ValidationError(_("The file has more than %d rows: split it.") % MAX_ROWS)
        batch.append((number, planner.raw_values(cells), cells))
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    if progress is not None:
        progress(result.rows_total, result.rows_total)
    result.seconds = time.perf_counter() - started
    return result


# --------------------------------------------------------------------------- targets


class Handler:
    """One kind of target. ``key`` identifies a record; ``lookup`` finds the existing ones of
    a batch in one query ({key: (pk, region code, {field: value})}); ``compare`` lists the
    fields a row would change."""

    compared: tuple[str, ...] = ()
    model = None

    def __init__(self, planner: Planner):
        self.p = planner

    # -- per batch

    def batch(self, rows, result: Plan) -> None:
        p = self.p
        cleaned = []
        for number, values, cells in rows:
            record, problems = p.clean(values)
            record["_row"] = number
            record["_values"] = values
            if self.p.target in EXTERNAL_TARGETS:
                record["_cells"] = cells
            cleaned.append((record, problems))
        if p.placer is not None:
            self.place(cleaned)
        good = []
        for record, problems in cleaned:
            if not problems:
                problems.extend(self.prepare(record))
            if problems:
                self.report(result, record, problems)
            else:
                good.append(record)
        fresh = [r for r in good if self.key(r) not in p.seen]
        existing = self.lookup(fresh) if fresh else {}
        for record in good:
            self.classify(record, existing, result)

    def report(self, result: Plan, record: dict, problems) -> None:
        result.problem_rows.add(record["_row"])
        result.counts["errors"] = len(result.problem_rows)
        for name, message in problems:
            if len(result.problems) >= MAX_PROBLEMS:
                return
            column = self.p.columns.get(name, "")
            result.problems.append(
                Problem(
                    row=record["_row"],
                    field=name,
                    column=column,
                    value=masked(name, record["_values"].get(name)),
                    message=str(message),
                )
            )

    def place(self, cleaned) -> None:
        """Set grid_code / region_code (and house for people) on each good record."""
        placer = self.p.placer
        pending = []
        for record, problems in cleaned:
            if problems:
                continue
            if record.get("grid_code"):
                record["region_code"] = record["grid_code"]
            elif "lat" in record:
                pending.append(record)
            elif record.get("address"):
                self._place_by_address(record, problems)
        found = placer.by_points([(r["lat"], r["lng"]) for r in pending])
        problems_of = {id(r): pr for r, pr in cleaned}
        for record, grid_code in zip(pending, found, strict=True):
            if grid_code:
                record["grid_code"] = record["region_code"] = grid_code
            elif record.get("address"):
                self._place_by_address(record, problems_of[id(record)])
            else:
                problems_of[id(record)].append(("lat", _("the point is not inside any grid")))
        for record, problems in cleaned:
            if problems:
                continue
            code = record.get("region_code")
            if code is None:
                if self.p.target in _GRID_REQUIRED or self.p.target in EXTERNAL_TARGETS:
                    problems.append(("address", _("give an address, coordinates or a grid code")))
                continue
            if self.p.target in _GRID_REQUIRED and not record.get("grid_code"):
                problems.append(
                    (
                        "address",
                        _(
                            "the address names a village with several grids: give coordinates "
                            "or the grid code"
                        ),
                    )
                )
            elif not self.p.in_scope(code):
                problems.append(("address", _("outside your area (%s)") % code))

    def _place_by_address(self, record, problems) -> None:
        grid_code, region_code, house_id, problem = self.p.placer.by_address(record["address"])
        if problem:
            problems.append(("address", problem))
            return
        if grid_code:
            record["grid_code"] = grid_code
        record["region_code"] = region_code
        if house_id and "house_id" not in record:
            record["house_id"] = house_id

    def prepare(self, record) -> list:
        return []

    # -- classification

    def classify(self, record: dict, existing: dict, result: Plan) -> None:
        p = self.p
        key = self.key(record)
        seen = p.seen.get(key)
        values = self.values(record)
        if seen is not None:
            kind, target, row, current = seen
            if p.on_duplicate == OnDuplicate.SKIP:
                return self._count(result, "skipped", record, note=_("same as row %d") % row)
            if kind == "new":
                changes = self.changes(values, result.new[target], missing=True)
                result.new[target].update(changes)
            else:
                merged = {**current, **result.updates.get(target, {})}
                changes = self.changes(values, merged)
                if changes:
                    result.updates.setdefault(target, {}).update(changes)
            return self._count(result, "updated" if changes else "unchanged", record)
        found = existing.get(key)
        if found is None:
            problems = self.check_new(record)
            if problems:
                return self.report(result, record, problems)
            result.new.append(self.new_values(record))
            p.seen[key] = ("new", len(result.new) - 1, record["_row"], None)
            return self._count(result, "new", record)
        pk, region_code, current = found
        if region_code and not p.in_scope(region_code):
            return self.report(
                result,
                record,
                [
                    (
                        self.key_field,
                        _("the existing record is outside your area (%s)") % region_code,
                    )
                ],
            )
        p.seen[key] = ("update", pk, record["_row"], current)
        if p.on_duplicate == OnDuplicate.SKIP:
            return self._count(result, "skipped", record, note=_("already registered"))
        changes = self.changes(values, current)
        if changes:
            result.updates[pk] = changes
        self._count(result, "updated" if changes else "unchanged", record)

    def changes(self, values: dict, current: dict, *, missing: bool = False) -> dict:
        """The values that differ from ``current`` (fields starting with _ ride along);
        with ``missing``, also those ``current`` lacks (a record the file creates)."""
        return {
            name: value
            for name, value in values.items()
            if not name.startswith("_")
            and (name in current or missing)
            and current.get(name) != value
        }

    def _count(self, result: Plan, action: str, record: dict, note: str = "") -> None:
        result.counts[action] += 1
        if result.counts[action] <= SAMPLE_PER_ACTION:
            result.sample.append(
                {
                    "row": record["_row"],
                    "action": action,
                    "record": self.describe(record),
                    "region_code": record.get("region_code") or "",
                    "note": str(note),
                }
            )

    def check_new(self, record) -> list:
        return []

    def values(self, record) -> dict:
        """The model fields this row sets (only those it has)."""
        return {name: record[name] for name in self.compared if name in record}

    def new_values(self, record) -> dict:
        return self.values(record)

    # -- writing

    def create(self, rows: list[dict], run) -> int:
        for start in range(0, len(rows), 1000):
            insert_rows(self.model, [self.build(v, run) for v in rows[start : start + 1000]])
        return len(rows)

    def build(self, values: dict, run) -> dict:
        """The new row's columns, by attribute name (``grid_id``); the rest take defaults."""
        return {name: value for name, value in values.items() if not name.startswith("_")}

    def update(self, updates: dict, run) -> int:
        """One ``UPDATE … WHERE id = %s`` per record, sent with ``executemany`` per set of
        changed fields (``bulk_update``'s CASE expression grows with the batch)."""
        groups: dict[tuple, list] = {}
        for pk, changes in updates.items():
            written = self.written(changes)
            written.update(self.touched())
            names = tuple(sorted(written))
            groups.setdefault(names, []).append((pk, written))
        for names, rows in groups.items():
            update_rows(self.model, names, rows)
        return len(updates)

    def written(self, changes: dict) -> dict:
        return changes

    def touched(self) -> dict:
        """Columns every updated row also sets (``updated`` times)."""
        return {}

    def recheck(self, rows: list[dict]) -> bool:
        """Are the new records still new? (one query per thousand)"""
        return True


def _grid_values(record: dict, planner: Planner) -> dict:
    """grid_id and region_code of a placed record (a village-only place has no grid)."""
    if not record.get("region_code"):
        return {}
    grid_code = record.get("grid_code")
    return {
        "grid_id": planner.placer.grids[grid_code][0] if grid_code else None,
        "region_code": record["region_code"],
    }


class PopulationHandler(Handler):
    model = Person
    key_field = "id_number"
    compared = ("name", "gender", "birth_date", "phone_hash", "address", "house_id")

    def prepare(self, record):
        number = record["id_number"]
        record["id_hash"] = pii.blind_index("id", number)
        born = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        gender = "M" if int(number[16]) % 2 else "F"
        problems = []
        if record.setdefault("birth_date", born) != born:
            problems.append(("birth_date", _("differs from the date of birth in the ID number")))
        if record.setdefault("gender", gender) != gender:
            problems.append(("gender", _("differs from the gender in the ID number")))
        if "phone" in record:
            record["phone_hash"] = pii.blind_index("phone", record["phone"])
        return problems

    def key(self, record):
        return record["id_hash"]

    def place(self, cleaned):
        houses = {r["house_code"] for r, pr in cleaned if not pr and r.get("house_code")}
        if houses:
            known, regions = {}, {}
            for code, pk, region_code in House.objects.filter(code__in=houses).values_list(
                "code", "pk", "region_code"
            ):
                known[code], regions[code] = pk, region_code
            for record, problems in cleaned:
                code = record.get("house_code")
                if problems or not code:
                    continue
                if code not in known:
                    problems.append(("house_code", _("no house has this code")))
                else:
                    record["house_id"] = known[code]
                    if not record.get("grid_code") and "lat" not in record:
                        record["grid_code"] = regions[code]
        super().place(cleaned)

    def lookup(self, records):
        rows = Person.objects.filter(id_number_hash__in=[r["id_hash"] for r in records]).values(
            "pk", "id_number_hash", "region_code", "grid_id", *self.compared
        )
        return {
            row["id_number_hash"]: (row["pk"], row["region_code"], row)
            for row in rows.order_by("pk")
        }

    def values(self, record):
        values = super().values(record)
        values.update(_grid_values(record, self.p))
        if "phone" in record:
            values["_phone"] = record["phone"]
        return values

    def changes(self, values, current, *, missing=False):
        changes = super().changes(values, current, missing=missing)
        if "phone_hash" in changes:
            changes["_phone"] = values["_phone"]
        return changes

    def check_new(self, record):
        if not record.get("region_code"):
            return [("address", _("give an address, coordinates or a grid code"))]
        return []

    def new_values(self, record):
        values = self.values(record)
        values["id_number"] = record["id_number"]
        values["id_hash"] = record["id_hash"]
        return values

    def describe(self, record):
        return f"{pii.mask_name(record['name'])} {pii.mask_id_number(record['id_number'])}"

    def build(self, values, run):
        # Sealed as people.pii.seal does, with the blind indexes the plan already computed.
        number, phone = values["id_number"], values.get("_phone")
        encrypt = self.crypto.encrypt
        return {
            "name": values["name"],
            "gender": values.get("gender", ""),
            "birth_date": values.get("birth_date"),
            "id_number_cipher": encrypt(number.encode()).decode(),
            "id_number_hash": values["id_hash"],
            "id_number_masked": pii.mask_id_number(number),
            "phone_cipher": encrypt(phone.encode()).decode() if phone else "",
            "phone_hash": pii.blind_index("phone", phone) if phone else "",
            "phone_masked": pii.mask_phone(phone) if phone else "",
            "address": values.get("address", ""),
            "region_code": values["region_code"],
            "grid_id": values.get("grid_id"),
            "house_id": values.get("house_id"),
            "is_resident": True,
        }

    @cached_property
    def crypto(self):
        return pii._crypto()

    def written(self, changes):
        changes = dict(changes)
        phone = changes.pop("_phone", None)
        changes.pop("phone_hash", None)
        if phone:
            sealed = pii.seal("phone", phone, pii.mask_phone(phone))
            changes.update(
                phone_cipher=sealed.cipher, phone_hash=sealed.hash, phone_masked=sealed.masked
            )
        return changes

    def touched(self):
        return {"updated": timezone.now()}

    def recheck(self, rows):
        hashes = [r["id_hash"] for r in rows]
        for start in range(0, len(hashes), 1000):
            if Person.objects.filter(id_number_hash__in=hashes[start : start + 1000]).exists():
                return False
        return True


class HouseHandler(Handler):
    model = House
    key_field = "code"
    compared = ("address", "kind", "lat", "lng", "grid_id", "region_code")

    def prepare(self, record):
        record["_address_key"] = self.p.placer.address_key(record["address"])[0]
        return []

    def key(self, record):
        if record.get("code"):
            return ("code", record["code"])
        return ("address", record.get("grid_code"), record["_address_key"])

    def place(self, cleaned):
        super().place(cleaned)
        # An exact house match is the same house, not a place to put a new one.
        for record, _problems in cleaned:
            record.pop("house_id", None)

    def lookup(self, records):
        codes = [r["code"] for r in records if r.get("code")]
        found = {}
        fields = ("pk", "code", *self.compared)
        for row in House.objects.filter(code__in=codes).values(*fields):
            found[("code", row["code"])] = (row["pk"], row["region_code"], row)
        index = self.p.placer.houses()
        by_address = {}
        for record in records:
            if record.get("code"):
                continue
            hit = index.get(record["_address_key"])
            if hit is not None and hit is not Placer.AMBIGUOUS and hit[0] == record["grid_code"]:
                by_address[hit[1]] = self.key(record)
        for row in House.objects.filter(pk__in=list(by_address)).values(*fields):
            found[by_address[row["pk"]]] = (row["pk"], row["region_code"], row)
        return found

    def values(self, record):
        values = super().values(record)
        values.update(_grid_values(record, self.p))
        return values

    def check_new(self, record):
        if not record.get("kind"):
            return [("kind", _("required for a new house (or give a default value)"))]
        return []

    def new_values(self, record):
        values = self.values(record)
        values["code"] = record.get("code") or (
            f"{record['grid_code']}A"
            + hashlib.sha1(record["_address_key"].encode()).hexdigest()[:10].upper()
        )
        return values

    def describe(self, record):
        return f"{record.get('code', '')} {record['address']}".strip()

    def recheck(self, rows):
        codes = [r["code"] for r in rows]
        for start in range(0, len(codes), 1000):
            if House.objects.filter(code__in=codes[start : start + 1000]).exists():
                return False
        return True


class _NamedHandler(Handler):
    """Organisations and places: the same name at the same normalised address is the same."""

    key_field = "name"

    def prepare(self, record):
        record["_address_key"] = (
            self.p.placer.address_key(record["address"])[0] if record.get("address") else ""
        )
        return []

    def key(self, record):
        return ("name", record["name"], record["_address_key"])

    def place(self, cleaned):
        super().place(cleaned)
        for record, _problems in cleaned:
            record.pop("house_id", None)

    def lookup(self, records):
        found = {}
        rows = self.model.objects.filter(name__in={r["name"] for r in records}).values(
            "pk", "name", *self.compared
        )
        for row in rows.order_by("pk"):
            key = ("name", row["name"], self.p.placer.address_key(row["address"])[0])
            found.setdefault(key, (row["pk"], row["region_code"], row))
        return found

    def values(self, record):
        values = super().values(record)
        values.update(_grid_values(record, self.p))
        return values

    def new_values(self, record):
        return {"name": record["name"], **self.values(record)}

    def describe(self, record):
        return record["name"]


class OrganisationHandler(_NamedHandler):
    model = Organisation
    compared = ("name", "credit_code", "kind", "address", "grid_id", "region_code")

    def prepare(self, record):
        super().prepare(record)
        code = record.get("credit_code")
        if code and "kind" not in record:
            # GB 32100: the registering authority (9 market regulation: 2 = individual
            # business; 5 civil affairs; 1 establishment offices).
            record["kind"] = {"9": "shop" if code[1] == "2" else "enterprise", "5": "social"}.get(
                code[0], "public" if code[0] == "1" else None
            )
            if record["kind"] is None:
                del record["kind"]
        return []

    def key(self, record):
        if record.get("credit_code"):
            return ("credit", record["credit_code"])
        return super().key(record)

    def lookup(self, records):
        found = super().lookup([r for r in records if not r.get("credit_code")])
        codes = [r["credit_code"] for r in records if r.get("credit_code")]
        rows = Organisation.objects.filter(credit_code__in=codes).values("pk", *self.compared)
        for row in rows.order_by("pk"):
            found.setdefault(("credit", row["credit_code"]), (row["pk"], row["region_code"], row))
        return found

    def check_new(self, record):
        if not record.get("kind"):
            return [("kind", _("required for a new organisation (or give a default value)"))]
        return []

    def recheck(self, rows):
        codes = [r["credit_code"] for r in rows if r.get("credit_code")]
        for start in range(0, len(codes), 1000):
            if Organisation.objects.filter(credit_code__in=codes[start : start + 1000]).exists():
                return False
        return True


class PlaceHandler(_NamedHandler):
    model = Place
    compared = ("kind", "address", "lat", "lng", "grid_id", "region_code")


class KeyGroupHandler(Handler):
    model = PersonKeyGroup
    key_field = "id_number"
    compared = ("since", "note")

    def batch(self, rows, result):
        # Find the people of the batch by their ID numbers (one query) before the rest.
        self._people = {}
        hashes = []
        for _number, values, _cells in rows:
            text = cell_text(values.get("id_number"))
            try:
                hashes.append(pii.blind_index("id", pii.normalize_id_number(text)))
            except ValidationError:
                continue
        for pk, digest, region_code in Person.objects.filter(id_number_hash__in=hashes).values_list(
            "pk", "id_number_hash", "region_code"
        ):
            self._people.setdefault(digest, (pk, region_code))
        super().batch(rows, result)

    def prepare(self, record):
        person = self._people.get(pii.blind_index("id", record["id_number"]))
        if person is None:
            return [("id_number", _("nobody with this ID number is registered"))]
        record["person_id"], record["region_code"] = person
        if not self.p.in_scope(person[1]):
            return [("id_number", _("the person is outside your area (%s)") % person[1])]
        return []

    def key(self, record):
        return (record["person_id"], record["key_group"])

    def lookup(self, records):
        rows = PersonKeyGroup.objects.filter(
            person_id__in={r["person_id"] for r in records},
            key_group_id__in={r["key_group"] for r in records},
        ).values("pk", "person_id", "key_group_id", "region_code", *self.compared)
        return {
            (row["person_id"], row["key_group_id"]): (row["pk"], row["region_code"], row)
            for row in rows
        }

    def new_values(self, record):
        return {
            "person_id": record["person_id"],
            "key_group_id": record["key_group"],
            "region_code": record["region_code"],
            **self.values(record),
        }

    def describe(self, record):
        return f"{pii.mask_id_number(record['id_number'])} · {record['_values'].get('key_group')}"

    def recheck(self, rows):
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            pairs = {(r["person_id"], r["key_group_id"]) for r in chunk}
            found = PersonKeyGroup.objects.filter(
                person_id__in={p for p, _k in pairs}, key_group_id__in={k for _p, k in pairs}
            ).values_list("person_id", "key_group_id")
            if pairs & set(found):
                return False
        return True


class ExternalHandler(Handler):
    model = ExternalRecord
    key_field = "external_id"
    compared = (
        "occurred_at",
        "category",
        "status",
        "description",
        "address",
        "lat",
        "lng",
        "grid_id",
        "region_code",
        "raw",
    )

    def prepare(self, record):
        cells = record.pop("_cells")
        record["raw"] = {h: cell_text(c) for h, c in zip(self.p.header, cells, strict=False) if h}
        return []

    def key(self, record):
        return record["external_id"]

    def lookup(self, records):
        rows = ExternalRecord.objects.filter(
            source=self.p.source, external_id__in=[r["external_id"] for r in records]
        ).values("pk", "external_id", *self.compared)
        return {row["external_id"]: (row["pk"], row["region_code"], row) for row in rows}

    def values(self, record):
        values = super().values(record)
        values.update(_grid_values(record, self.p))
        return values

    def new_values(self, record):
        return {"external_id": record["external_id"], **self.values(record)}

    def describe(self, record):
        return f"{record['external_id']} {record.get('category', '')}".strip()

    def build(self, values, run):
        return {
            **super().build(values, run),
            "source_id": self.p.source.pk,
            "kind": ExternalRecord.KIND_OF_TARGET[self.p.target],
            "run_id": run.pk if run is not None else None,
            "imported_at": timezone.now(),
        }

    def recheck(self, rows):
        ids = [r["external_id"] for r in rows]
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            if ExternalRecord.objects.filter(source=self.p.source, external_id__in=chunk).exists():
                return False
        return True


_PLAIN = (
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.IntegerField,
    models.FloatField,
    models.ForeignKey,
)


def insert_rows(model, rows: list[dict]) -> None:
    """INSERT many rows with one ``executemany``: the bulk path for large imports.

    ``bulk_create`` prepares every value of every instance through its field (most of an
    import's time); here only dates, times and JSON go through the field, plain text and
    numbers go as they are. Columns a row lacks take the field's default; ``auto_now`` and
    ``auto_now_add`` fields take the time of the call.
    """
    if not rows:
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    prepare = []
    for f in fields:
        plain = isinstance(f, _PLAIN) and not isinstance(f, models.DateField)
        auto = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        default = now if auto else (f.get_default() if f.has_default() else None)
        if default is None and not f.null and isinstance(f, (models.CharField, models.TextField)):
            default = ""
        prep = None if plain else (lambda v, f=f: f.get_db_prep_save(v, connection))
        if auto:
            default, prep = prep(now), None
        prepare.append((f.attname, default, auto, prep))
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    params = []
    for row in rows:
        values = []
        for name, default, auto, prep in prepare:
            value = default if auto else row.get(name, default)
            values.append(value if prep is None or value is None else prep(value))
        params.append(values)
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", params)


def update_rows(model, names: tuple[str, ...], rows: list[tuple[int, dict]]) -> None:
    """UPDATE the columns ``names`` (attribute names) of the rows ``(pk, {name: value})``."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in names]
    table = connection.ops.quote_name(model._meta.db_table)
    sets = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    pk = connection.ops.quote_name(model._meta.pk.column)
    params = [
        [f.get_db_prep_save(values[f.attname], connection) for f in fields] + [key]
        for key, values in rows
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(params), 1000):
            cursor.executemany(
                f"UPDATE {table} SET {sets} WHERE {pk} = %s", params[start : start + 1000]
            )


HANDLERS = {
    Target.POPULATION: PopulationHandler,
    Target.HOUSES: HouseHandler,
    Target.ORGANISATIONS: OrganisationHandler,
    Target.PLACES: PlaceHandler,
    Target.KEY_GROUPS: KeyGroupHandler,
    **{target: ExternalHandler for target in EXTERNAL_TARGETS},
}


def apply(result: Plan, *, source, mapping: dict, actor, run) -> dict:
    """Write a plan (call inside a transaction). Raises Conflict if a new record's key was
    registered meanwhile. Returns {"created": n, "updated": n}."""
    planner = Planner(source=source, mapping=mapping, actor=actor)
    handler = HANDLERS[planner.target](planner)
    if not handler.recheck(result.new):
        raise Conflict
    created = handler.create(result.new, run)
    updated = handler.update(result.updates, run)
    return {"created": created, "updated": updated}
