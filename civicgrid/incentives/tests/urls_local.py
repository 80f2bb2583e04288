from django.urls import include, path

from civicgrid.urls import urlpatterns as base

urlpatterns = [*base, path("", include("civicgrid.incentives.urls"))]
