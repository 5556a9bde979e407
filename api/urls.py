from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from . import (
    audit_views,
    classes,
    documents,
    imports,
    notice,
    notifications,
    payments_batches,
    payments_funds,
    payments_results,
    views,
)

# Swagger UI under the Content-Security-Policy: the split view serves its init script as a file
# (?script) and our template its style; the UI's own stylesheet draws its icons as data: images.
api_docs = csp_update({"img-src": ["data:"]})(
    SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html")
)

router = SimpleRouter()
router.register("claims", views.ClaimViewSet, basename="claim")
router.register("tasks", views.TaskViewSet, basename="task")

v1 = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("auth/token/revoke/", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("departments/", views.DepartmentList.as_view(), name="departments"),
    path("providers/", views.ProviderList.as_view(), name="providers"),
    path("policies/", views.PolicyList.as_view(), name="policies"),
    path("audit/verify/", views.AuditVerifyView.as_view(), name="audit-verify"),
    path("audit/checkpoints/", audit_views.CheckpointList.as_view(), name="audit-checkpoints"),
    path("audit/public-key/", audit_views.PublicKeyView.as_view(), name="audit-public-key"),
    path("audit/inclusion/", audit_views.InclusionProofView.as_view(), name="audit-inclusion"),
    path("audit/consistency/", audit_views.ConsistencyProofView.as_view(), name="audit-consistency"),
    # Before the router: "claims/import/" is not a claim's id.
    path("claims/import/", imports.RosterImportView.as_view(), name="claim-import"),
    path("claims/import/template/", imports.RosterTemplateView.as_view(), name="claim-import-template"),
    path("claims/import/<id:pk>/", imports.RosterUploadView.as_view(), name="claim-import-status"),
    *documents.urlpatterns,
    *classes.urlpatterns,
    *notice.urlpatterns,
    *payments_funds.urlpatterns,
    *payments_batches.urlpatterns,
    *payments_results.urlpatterns,
    *notifications.urlpatterns,
    *router.urls,
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", api_docs, name="api-docs"),
    path("v1/", include((v1, "api"), namespace="v1")),
]
