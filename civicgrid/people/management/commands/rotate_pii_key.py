"""Re-encrypt every sealed value under the first key of CIVICGRID_PII_KEYS.

Every column named ``*_cipher`` in every installed model is a Fernet token made by
``people.pii`` (ID and phone numbers of people, case reporters, dispute parties, visitors and
callers, co-governance members' people, second-factor secrets, webhook secrets …). Rows are
read in primary-key order, a batch at a time, each batch locked and rewritten in its own
transaction; a value already sealed under the first key is left alone. So the command can be
stopped and run again at any point (it carries on where it was), and a second run finds
nothing to do. The search index (``*_hash``) is not touched: it has its own key,
``CIVICGRID_PII_INDEX_KEY``. When the command reports nothing left under old keys, the old keys
can be removed from the list.

Audit events are never rewritten: a cipher text inside an old event's before/after (the trail
shows such values only as a mark) stays under the key it was made with.
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction

from civicgrid.core.audit import record_event
from civicgrid.people import pii

__all__ = ["Command", "sealed_columns"]


def sealed_columns() -> list[tuple[type[models.Model], list[str]]]:
    """(model, its ``*_cipher`` columns) for every installed model that has some."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        names = [
            f.attname
            for f in model._meta.concrete_fields
            if f.attname.endswith("_cipher") and isinstance(f, models.TextField | models.CharField)
        ]
        if names:
            found.append((model, names))
    return sorted(found, key=lambda item: item[0]._meta.label)


def _check_index_key() -> None:
    """Refuse if the search index would no longer match (its key changed with the list)."""
    from civicgrid.people.models import Person

    for kind, column in (("id", "id_number"), ("phone", "phone")):
        row = (
            Person.objects.exclude(**{f"{column}_cipher": ""})
            .exclude(**{f"{column}_hash": ""})
            .values_list(f"{column}_cipher", f"{column}_hash")
            .first()
        )
        if row is not None and pii.blind_index(kind, pii.reveal(row[0])) != row[1]:
            raise CommandError(
                "The search index was made with another key: set CIVICGRID_PII_INDEX_KEY to "
                "the CIVICGRID_PII_KEY in use before the rotation (the index keeps its key)."
            )


class Command(BaseCommand):
    help = "Re-encrypt all sealed personal data under the first key of CIVICGRID_PII_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=500, help="rows per transaction")
        parser.add_argument(
            "--check", action="store_true", help="only count values still under old keys"
        )

    def handle(self, *args, batch, check, **options):
        self.verbosity = options.get("verbosity", 1)
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        _check_index_key()
        total_changed = total_old = 0
        for model, columns in sealed_columns():
            label = model._meta.label
            if check:
                old = self._count_old(model, columns)
                total_old += old
                self.stdout.write(f"{label}: {old} under old keys")
                continue
            changed = self._rotate(model, columns, batch=batch, label=label)
            total_changed += changed
        if check:
            self.stdout.write(f"{total_old} values under old keys")
            if total_old:
                raise CommandError("some values are still under old keys: run rotate_pii_key")
            return
        if total_changed:
            with transaction.atomic():
                record_event("core.pii.rotate_key", after={"values_resealed": total_changed})
        self.stdout.write(
            self.style.SUCCESS(f"{total_changed} values re-encrypted under the first key")
            if total_changed
            else "nothing to do: every value is under the first key"
        )

    def _count_old(self, model, columns) -> int:
        rows = model._base_manager.values_list(*columns).iterator(chunk_size=2000)
        return sum(
            1 for row in rows for cipher in row if not pii.is_sealed_with_current_key(cipher)
        )

    def _rotate(self, model, columns, *, batch: int, label: str) -> int:
        manager = model._base_manager
        total = manager.count()
        last_pk, seen, changed = None, 0, 0
        while True:
            with transaction.atomic():
                rows = manager.select_for_update().order_by("pk")
                if last_pk is not None:
                    rows = rows.filter(pk__gt=last_pk)
                rows = list(rows.values_list("pk", *columns)[:batch])
                if not rows:
                    break
                for pk, *ciphers in rows:
                    updates = {
                        column: pii.reseal(cipher)
                        for column, cipher in zip(columns, ciphers, strict=True)
                        if not pii.is_sealed_with_current_key(cipher)
                    }
                    if updates:
                        # A plain UPDATE: no save() hooks, no "updated" stamps moved.
                        manager.filter(pk=pk).update(**updates)
                        changed += len(updates)
                last_pk = rows[-1][0]
            seen += len(rows)
            if self.verbosity >= 1:
                self.stdout.write(f"{label}: {seen}/{total} rows, {changed} values re-encrypted")
        return changed
