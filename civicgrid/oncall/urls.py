"""This app's pages (they extend ``web/base.html``); included at the site root by civicgrid.urls."""

from django.urls import path

from civicgrid.oncall import views

urlpatterns = [
    path("oncall/postings/", views.postings, name="oncall_postings"),
    path("oncall/postings/export.<str:fmt>", views.postings_export, name="oncall_postings_export"),
    path("oncall/grids/<str:grid_code>/post/", views.posting_add, name="oncall_posting_add"),
    path("oncall/postings/<int:pk>/end/", views.posting_end, name="oncall_posting_end"),
    path("oncall/cases/<str:code>/summon/", views.summon, name="oncall_summon"),
    path("oncall/summons/<int:pk>/cancel/", views.cancel, name="oncall_cancel"),
    path("oncall/mine/", views.mine, name="oncall_mine"),
    path("oncall/summons/<int:pk>/<str:action>/", views.answer, name="oncall_answer"),
    path("oncall/photos/<int:pk>/", views.photo, name="oncall_photo"),
    path("oncall/statistics/", views.stats, name="oncall_stats"),
    path("oncall/statistics/export.<str:fmt>", views.stats_export, name="oncall_stats_export"),
    path(
        "oncall/summonses/export.<str:fmt>", views.summonses_export, name="oncall_summonses_export"
    ),
]
