"""What the browser tests share: the server they talk to, people in browsers, screenshots."""

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

DEMO_PASSWORD = "civicgrid-demo"  # civicgrid.demo.loader.DEMO_PASSWORD
REPO = Path(__file__).resolve().parents[4]


def screenshot_dir() -> Path:
    return Path(os.environ.get("CIVICGRID_SCREENSHOT_DIR") or REPO / "var" / "screenshots")


@dataclass
class Site:
    url: str
    data: dict
    log: Path
    states: dict = field(default_factory=dict)  # username → storage state after logging in

    def password(self, username: str) -> str:
        return self.data["password"] if username in {"lz-police", "lz-law"} else DEMO_PASSWORD

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Shots:
    """Full-page screenshots named ``<test>-<nn>-<step>.png``, numbered in the test's order."""

    def __init__(self, test: str):
        self.test, self.count = test, 0
        self.dir = screenshot_dir()
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob(f"{test}-*.png"):
            old.unlink()

    def __call__(self, page, step: str) -> Path:
        self.count += 1
        path = self.dir / f"{self.test}-{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


class Person:
    """One person in their own browser context (their phone or their desk)."""

    def __init__(self, site: Site, username: str, page, shots: Shots):
        self.site, self.username, self.page, self.shots = site, username, page, shots
        self.problems: list[str] = []  # server errors and script errors seen by this page
        page.on(
            "response",
            lambda r: r.status >= 500 and self.problems.append(f"{r.status} {r.url}"),
        )
        page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        # Anything the Content-Security-Policy blocked is a page that lost behaviour.
        page.on(
            "console",
            lambda m: (
                m.type == "error"
                and "Content Security Policy" in m.text
                and self.problems.append(f"blocked by the policy: {m.text}")
            ),
        )

    def shot(self, step: str) -> Path:
        return self.shots(self.page, f"{self.username or 'visitor'}-{step}")

    def go(self, path: str):
        response = self.page.goto(self.site.url + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        return response

    def log_in(self, *, remember: bool = True):
        """Log in through the login page; ``remember`` keeps the session for later tests."""
        page = self.page
        self.go("/login/")
        page.fill("#id_username", self.username)
        page.fill("#id_password", self.site.password(self.username))
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(lambda url: "/login/" not in url)
        if remember:
            self.site.states[self.username] = page.context.storage_state()

    def open_case(self, code: str):
        self.go(f"/cases/{code}/")
        from playwright.sync_api import expect

        expect(self.page.locator("h1 code")).to_have_text(code)

    def actions(self) -> list[str]:
        """The actions the case page offers this person now."""
        ids = self.page.locator("section.actions details").evaluate_all("ds => ds.map(d => d.id)")
        return [i.removeprefix("act-") for i in ids]

    def state(self) -> str:
        """The case's state as its page shows it."""
        return self.page.locator("main section.card").first.locator("p b").first.inner_text()

    def timeline(self) -> list[str]:
        """The labels of the case's timeline, oldest first."""
        return self.page.locator("ol.timeline > li > b").all_inner_texts()

    def fits_the_screen(self) -> bool:
        """Nothing on the page is wider than the viewport (no sideways scrolling)."""
        return self.page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )

    def attempt(self, action: str, shot: str = "", **fields) -> list[str]:
        """Fill and submit the form of ``action`` on the open case page; the error messages.

        ``fields`` are the form's fields without the ``<action>-`` prefix: a str for inputs and
        selects (an option's value), a list for a multiple select, bytes for a JPEG to upload.
        """
        page = self.page
        details = page.locator(f"details#act-{action}")
        assert details.count() == 1, f"{action} is not offered: {self.actions()}"
        if details.get_attribute("open") is None:
            details.locator("summary").click()
        for name, value in fields.items():
            control = details.locator(f"[name='{action}-{name}']")
            if isinstance(value, bytes):
                control.set_input_files(
                    files=[{"name": f"{name}.jpg", "mimeType": "image/jpeg", "buffer": value}]
                )
            elif isinstance(value, list) or control.evaluate("e => e.tagName") == "SELECT":
                control.select_option(value)
            else:
                control.fill(value)
        if shot:
            details.scroll_into_view_if_needed()
            self.shot(f"{shot}-form")
        invalid = details.locator("form").evaluate(
            "f => [...f.elements].filter(e => !e.checkValidity())"
            ".map(e => e.name + ': ' + e.validationMessage)"
        )
        assert not invalid, f"{action}: the browser would not submit: {invalid}"
        with page.expect_navigation():
            details.locator("button[type=submit]").click()
        if shot:
            self.shot(shot)
        return page.locator(".messages .error").all_inner_texts()

    def act(self, action: str, shot: str = "", **fields):
        """``attempt`` that must succeed."""
        from playwright.sync_api import expect

        errors = self.attempt(action, shot, **fields)
        assert not errors, f"{action}: {errors}"
        expect(self.page.locator(".messages .success")).to_be_visible()


def jpeg(colour: str = "gray", size=(640, 480)) -> bytes:
    """A small photo, as a phone camera would send one."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle([size[0] // 4, size[1] // 3, size[0] * 3 // 4, size[1] * 2 // 3], fill="navy")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def zh(message) -> str:
    """A message as the Chinese pages show it."""
    from django.utils import translation

    with translation.override("zh-hans"):
        return translation.gettext(message) if isinstance(message, str) else str(message)
