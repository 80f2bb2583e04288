"""The cases app's World fixture, for pages that drive the workflow."""

from civicgrid.cases.tests.conftest import world  # noqa: F401
