"""Pages of the core app: a person's security settings and the second step of a login."""

from django.urls import path

from civicgrid.core import views_security as views

urlpatterns = [
    path("security/", views.security, name="security"),
    path("security/totp/", views.enrol, name="totp_enrol"),
    path("security/totp/verify/", views.verify, name="totp_verify"),
    path("security/totp/disable/", views.disable, name="totp_disable"),
    path("security/totp/recovery-codes/", views.new_recovery_codes, name="totp_recovery_codes"),
]
