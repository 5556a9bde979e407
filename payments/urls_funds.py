from django.urls import path

from . import views_funds as views

# Included by payments/urls.py under /payments/ (namespace "payments").
urlpatterns = [
    path("funds/", views.funds, name="funds"),
    path("funds/accounts/new/", views.fund_account_new, name="fund_account_new"),
    path("funds/plans/new/", views.plan_new, name="plan_new"),
    path("funds/plans/<id:plan_id>/", views.plan_detail, name="plan"),
    path("funds/plans/<id:plan_id>/edit/", views.plan_edit, name="plan_edit"),
    path("funds/plans/<id:plan_id>/file/", views.plan_file, name="plan_file"),
    path("funds/plans/<id:plan_id>/accept/", views.plan_accept, name="plan_accept"),
    path("funds/plans/<id:plan_id>/refuse/", views.plan_refuse, name="plan_refuse"),
    path("funds/report/", views.report, name="report"),
    path("funds/report.xlsx", views.report_xlsx, name="report_xlsx"),
]
