from django.urls import path

from . import views_results as views

# Included by payments/urls.py under /payments/ (namespace "payments").
urlpatterns = [
    path("batches/<id:batch_id>/results/", views.result_upload, name="result_upload"),
    path("batches/<id:batch_id>/reconciliation/", views.reconciliation, name="reconciliation"),
    path("returns/", views.returns, name="returns"),
    path("returns/<id:transfer_id>/correct/", views.return_correct, name="return_correct"),
    path("claims/<id:claim_id>/lines/<id:line_no>/cancel-payment/", views.line_cancel, name="line_cancel"),
    path("claims/<id:claim_id>/lines/<id:line_no>/recovery/", views.recovery_open, name="recovery_open"),
    path("recoveries/", views.recoveries, name="recoveries"),
    path("recoveries/<id:order_id>/", views.recovery_detail, name="recovery"),
    path("recoveries/<id:order_id>/receipts/", views.recovery_receipt, name="recovery_receipt"),
]
