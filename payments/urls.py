from django.urls import include, path

app_name = "payments"

# One module per area: funds and reports, batches and bank files, results and recoveries.
urlpatterns = [
    path("", include("payments.urls_funds")),
    path("", include("payments.urls_batches")),
    path("", include("payments.urls_results")),
]
