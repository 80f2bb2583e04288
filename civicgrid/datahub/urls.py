"""This app's pages (they extend ``web/base.html``); included at the site root by civicgrid.urls."""

urlpatterns = []
