from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import include, path, register_converter
from django.views.generic import RedirectView

from .converters import IdConverter

# Before the apps' URL modules are read (by the include() calls below): they name it.
register_converter(IdConverter, "id")


def healthz(request):
    """The process answers, touching nothing else: a load balancer's probe, and the baseline the
    benchmarks divide by (bench/inbox.py)."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", RedirectView.as_view(pattern_name="approvals:inbox", permanent=False)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path(settings.ADMIN_URL, admin.site.urls),  # the path comes from the environment (ADMIN_URL)
    path("api/", include("api.urls")),
    path("audit/", include("auditor.urls")),
    path("payments/", include("payments.urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("claims.urls")),
    path("", include("approvals.urls")),
]

# Under /api/ these answer in the API's JSON error shape; elsewhere they are Django's pages.
handler400 = "api.errors.bad_request"
handler403 = "api.errors.permission_denied"
handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"
