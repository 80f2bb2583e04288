"""The cases app's World fixture, for API tests that drive the workflow."""

from civicgrid.cases.tests.conftest import world  # noqa: F401
