from django.urls import path  # noqa: F401 - the catalogue and roster pages add their paths here

app_name = "claims"

urlpatterns = []
