from django.contrib.auth import views as auth_views
from django.urls import path

from civicgrid.core.auth import ThrottledAuthenticationForm
from civicgrid.web import audit, views

urlpatterns = [
    path("", views.workbench, name="home"),
    path("profile/", views.home, name="profile"),
    path("profile/log-out-everywhere/", views.log_out_everywhere, name="log_out_everywhere"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.inbox_read, name="inbox_read"),
    path("inbox/export.<slug:fmt>", views.inbox_export, name="inbox_export"),
    path("work/<slug:key>/", views.workbench, name="workbench"),
    path("report/", views.report, name="report"),
    path("cockpit/", views.cockpit_view, name="cockpit"),
    path("cockpit/map.json", views.cockpit_map, name="cockpit_map"),
    path("cockpit/<slug:table>.<slug:fmt>", views.cockpit_export, name="cockpit_export"),
    path("league/", views.league, name="league"),
    path("operations/", views.operations, name="operations"),
    path("operations/<int:pk>/result/", views.operation_result, name="operation_result"),
    path("league/<slug:table>.<slug:fmt>", views.league_export, name="league_export"),
    path("r/", views.resident_report, name="resident_report"),
    path("track/", views.track, name="track"),
    path("track/<str:code>/", views.track_case, name="track_case"),
    path("cases/", views.case_list, name="case_list"),
    path("cases/export.<slug:fmt>", views.case_export, name="case_export"),
    path("cases/bulk/", views.case_bulk, name="case_bulk"),
    path("healthz", views.healthz, name="healthz"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("audit/export.<slug:fmt>", audit.audit_export, name="audit_export"),
    path("audit/<int:pk>/", audit.audit_detail, name="audit_detail"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=ThrottledAuthenticationForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("grids/", views.grid_list, name="grid_list"),
    path("grids/export.<slug:fmt>", views.grid_export, name="grid_export"),
    path("people/<int:person_id>/", views.person_detail, name="person_detail"),
    path("people/<int:person_id>/reveal/", views.person_reveal, name="person_reveal"),
    path("cases/<str:code>/", views.case_detail, name="case_detail"),
    path("cases/<str:code>/act/<slug:action>/", views.case_act, name="case_act"),
    path("cases/<str:code>/grid.json", views.case_grid, name="case_grid"),
    path("cases/<str:code>/attachments/<int:pk>/", views.case_attachment, name="case_attachment"),
    path(
        "cases/<str:code>/supervision/<int:pk>/print/",
        views.supervision_sheet,
        name="supervision_sheet",
    ),
    path(
        "cases/<str:code>/instruction/<int:pk>/print/",
        views.instruction_sheet,
        name="instruction_sheet",
    ),
]
