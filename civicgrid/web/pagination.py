"""Pages of a long case list without counting it (issue 11: a county's year is 500,000 cases).

Django's ``Paginator`` counts every row to number the pages: at 5 M cases the "all cases" list
of a county spent 2 s counting a year of cases scattered over the table. ``capped_page``
reads one row more than a page to know whether there is a next page, and counts only up to
``cap`` rows: beyond that the list says "1,000+" (a person narrows a list that long with the
filters, or exports it — the exports are complete and never paginated). A list that ends on
the page it shows needs no count at all.

The returned page has the attributes the templates use of Django's ``Page``
(``number``, ``object_list``, ``has_previous`` / ``has_next`` and their page numbers,
``paginator.count`` and ``paginator.num_pages``); the count and number of pages are strings
ending in "+" when capped.
"""

from dataclasses import dataclass

__all__ = ["CAP", "PER_PAGE", "CappedPage", "capped_page"]

CAP = 1000
PER_PAGE = 50


@dataclass
class _Counts:
    count: int | str
    num_pages: int | str


@dataclass
class CappedPage:
    object_list: list
    number: int
    paginator: _Counts
    _has_next: bool

    def has_previous(self) -> bool:
        return self.number > 1

    def has_next(self) -> bool:
        return self._has_next

    def has_other_pages(self) -> bool:
        return self.has_previous() or self.has_next()

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)


def _number(value) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return 1
    return max(number, 1)


def _pages(count: int, per_page: int) -> int:
    return max(1, -(-count // per_page))


def capped_page(rows, number, per_page: int | None = None, cap: int | None = None) -> CappedPage:
    """Page ``number`` (1-based; anything else is page 1) of the ordered queryset ``rows``.

    ``per_page`` defaults to ``PER_PAGE``, ``cap`` to ``CAP``. One query for the page
    (``per_page`` + 1 rows); one more, counting at most ``cap`` + 1
    rows, only if there is a next page. Past the end: the last page, as ``Paginator.get_page``.
    """
    per_page = per_page or PER_PAGE
    cap = CAP if cap is None else cap
    number = _number(number)
    found = list(rows[(number - 1) * per_page : number * per_page + 1])
    if not found and number > 1:
        # A stale link past the end: the last page (an exact count, as a paginator would).
        number = _pages(rows.order_by().count(), per_page)
        found = list(rows[(number - 1) * per_page : number * per_page + 1])
    has_next = len(found) > per_page
    found = found[:per_page]
    if not has_next:
        count = (number - 1) * per_page + len(found)
        counts = _Counts(count, _pages(count, per_page))
    else:
        count = rows.order_by()[: cap + 1].count()
        if count <= cap:
            counts = _Counts(count, _pages(count, per_page))
        else:
            at_least = max(_pages(cap + 1, per_page), number + 1)
            counts = _Counts(f"{cap:,}+", f"{at_least:,}+")
    return CappedPage(object_list=found, number=number, paginator=counts, _has_next=has_next)
