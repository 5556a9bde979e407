from django.urls import path

from . import catalogue_views

app_name = "claims"

urlpatterns = [
    # The subsidy catalogue: read by anyone signed in, edited by administrators.
    path("catalogue/", catalogue_views.catalogue_list, name="catalogue"),
    path("catalogue/new/", catalogue_views.policy_new, name="catalogue_policy_new"),
    path("catalogue/<str:code>/", catalogue_views.policy_by_code, name="catalogue_code"),
    path("catalogue/<str:jurisdiction>/<str:code>/", catalogue_views.policy_detail, name="catalogue_policy"),
    path("catalogue/<str:jurisdiction>/<str:code>/edit/", catalogue_views.policy_edit, name="catalogue_policy_edit"),
    path("catalogue/<str:jurisdiction>/<str:code>/versions/new/", catalogue_views.version_new, name="catalogue_version_new"),
    path(
        "catalogue/<str:jurisdiction>/<str:code>/versions/<id:number>/edit/",
        catalogue_views.version_edit,
        name="catalogue_version_edit",
    ),
]
