"""Stored script never runs and stored markup never becomes page elements (issue 12, 6).

``seed_xss.py`` writes script, event-handler and template payloads into a case, a dispute and
a campaign through the real actions; here the people who read them open every page that shows
that text, in Chromium, and the test looks for what an escaping mistake would produce: the
payload's elements in the DOM, the marker variable set by a handler, a dialog.
"""

INJECTED = "#xss-img, #xss-svg, #xss-name, #xss-title, #xss-party, #xss-campaign"


def _assert_inert(person, path, *, shown=True):
    page = person.page
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    person.go(path)
    page.wait_for_load_state("networkidle")
    assert page.locator(INJECTED).count() == 0, f"{path}: payload markup became elements"
    assert page.evaluate("window.__xss === undefined"), f"{path}: a payload script ran"
    assert not dialogs, f"{path}: a dialog opened: {dialogs}"
    # The text is still there, shown as text (escaped), not dropped.
    assert not shown or "<img src=x" in page.inner_text("body") or "&lt;img" in page.content(), path


def test_payloads_are_shown_as_text_on_every_page_that_reads_them(site, people):
    seeded = site.data["xss"]
    operator = people("lizhou")
    for path in (  # pages showing a payload in full
        f"/cases/{seeded['case']}/",
        f"/mediation/{seeded['dispute']}/",
        f"/campaigns/{seeded['campaign']}/",
    ):
        _assert_inert(operator, path)
    lists = (f"/cases/?q={seeded['case']}", "/mediation/", "/campaigns/", "/inbox/", "/")
    for path in lists:  # lists and summaries show the text shortened, or not at all
        _assert_inert(operator, path, shown=False)
    operator.shot("case-page")
    worker = people("grid1", phone=True)
    _assert_inert(worker, f"/cases/{seeded['case']}/")
    # The public tracking page shows a resident the description too.
    visitor = people("")
    _assert_inert(visitor, f"/track/{seeded['case']}/")
    visitor.shot("track")
