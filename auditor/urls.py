from django.urls import path

from . import views

# The auditor's pages under /audit/ keep the URL names they had when they lived in the audit
# app ("audit:search", "audit:timeline", …): templates, tests and bookmarks use them.
app_name = "audit"

urlpatterns = [
    path("", views.search, name="search"),
    path("sample/", views.sample, name="sample"),
    path("claims/<id:claim_id>/", views.claim_timeline, name="timeline"),
    path("claims/<id:claim_id>/as-of/", views.claim_as_of, name="as_of"),
    path("verify/", views.verify, name="verify"),
    path("export/xlsx/", views.export_xlsx, name="export_xlsx"),
    path("export/package/", views.export_package, name="export_package"),
]
