"""The menu: grouped for people with many pages, flat where a group would hold one link."""

import re

from civicgrid.web.navigation import NAV


def _english(client):
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _menu(client) -> str:
    body = _english(client).get("/").content.decode()
    return re.search(r'<nav aria-label="[^"]*">(.*?)</nav>', body, re.S).group(1)


def _top_level(menu: str) -> list[str]:
    """The labels a person sees without opening anything: links outside groups, group titles."""
    outside = re.sub(r"<details.*?</details>", lambda m: _summary(m.group(0)), menu, flags=re.S)
    return re.findall(r">([^<>]+)</(?:a|summary)>", outside)


def _summary(group: str) -> str:
    return re.search(r"<summary>.*?</summary>", group, re.S).group(0)


def test_a_county_operator_sees_a_short_menu_with_every_page_under_its_group(login, personas):
    menu = _menu(login(personas.county))
    top = _top_level(menu)
    assert top[:3] == ["Workbench", "Inbox", "Cases"]
    outside = re.sub(r"<details.*?</details>", "", menu, flags=re.S)
    assert re.findall(r">([^<>]+)</a>", outside)[:3] == ["Workbench", "Inbox", "Cases"]
    assert "Disputes</a>" in outside  # a page of its own, not a group
    assert {"Analysis", "Field work", "Incentives", "System", "Disputes"} <= set(top)
    assert len(top) <= 9, top  # one line on a 1366 px screen
    analysis = re.search(r"<summary>Analysis</summary>(.*?)</details>", menu, re.S).group(1)
    for url in ("/cockpit/", "/analytics/kpis/", "/reports/", "/warnings/"):
        assert f'href="{url}"' in analysis
    # Nothing is lost by grouping: every page the county operator had is still one click away.
    assert menu.count("<a href=") >= 18


def test_a_group_holding_one_link_for_a_person_is_that_link(login, personas):
    menu = _menu(login(personas.auditor))
    groups = re.findall(r"<details class=\"nav-group\".*?</details>", menu, re.S)
    for group in groups:
        assert group.count("<a href=") >= 2, group


def test_the_group_of_the_current_page_is_marked(login, personas):
    client = _english(login(personas.county))
    body = client.get("/cockpit/").content.decode()
    group = re.search(r"<details class=\"nav-group\"([^>]*)>\s*<summary>Analysis", body).group(1)
    assert "data-current" in group
    assert 'href="/cockpit/" aria-current="page"' in body


def test_every_menu_group_is_named():
    from civicgrid.web.navigation import GROUPS

    assert {item.group for item in NAV} - {""} <= set(GROUPS)
