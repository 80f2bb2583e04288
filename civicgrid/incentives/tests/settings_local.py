from civicgrid.settings import *  # noqa

INSTALLED_APPS = [*INSTALLED_APPS, "civicgrid.incentives"]  # noqa: F405
ROOT_URLCONF = "civicgrid.incentives.tests.urls_local"
