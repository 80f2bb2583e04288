"""Shared test set-up: a small demo county loaded once per session, and named personas.

The county is the real Yuyao division list at scale 0.05 (all 21 townships, one or more
villages each), with synthetic geometry and people, loaded through the same loader as the
demo. Every test runs in a transaction on top of it and is rolled back.
"""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

TEST_SCALE = 0.05
TEST_SEED = 7


def pytest_configure(config):
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    import tempfile

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="civicgrid-test-media-")  # photos of tests


@pytest.fixture(scope="session", autouse=True)
def vendor_assets():
    """htmx, ECharts and Leaflet under VENDOR_STATIC_DIR: fetched on the first run, then a no-op.

    Without the npm registry (and no CIVICGRID_ASSET_MIRROR) only the tests that need the real
    files fail; the rest run."""
    import warnings

    from django.core.management.base import CommandError

    try:
        call_command("fetch_assets", verbosity=0)
    except CommandError as exc:
        warnings.warn(f"vendor assets not installed: {exc}", stacklevel=1)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("load_demo", scale=TEST_SCALE, seed=TEST_SEED, verbosity=0)


class Personas:
    """The demo logins plus an outsider with an account and no role."""

    def __init__(self):
        User = get_user_model()
        self._users = {
            u.username: u
            for u in User.objects.filter(
                username__in=[
                    "admin",
                    "county",
                    "leader",
                    "lizhou",
                    "fengshan",
                    "grid1",
                    "grid2",
                    "police",
                    "auditor",
                ]
            )
        }
        self._users["outsider"] = User.objects.create_user("outsider", password="x")

    def __getattr__(self, name):
        try:
            return get_user_model().objects.get(pk=self._users[name].pk)
        except KeyError:
            raise AttributeError(name) from None


@pytest.fixture
def personas(db):
    return Personas()


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture(autouse=True)
def english_messages():
    """Tests read messages in English; pages still follow each request's language."""
    from django.utils import translation

    with translation.override("en"):
        yield
