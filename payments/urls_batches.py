from django.urls import path

from . import views_batches as views

urlpatterns = [
    path("batches/", views.batch_list, name="batches"),
    path("batches/new/", views.batch_build, name="batch_build"),
    path("batches/<id:batch_id>/", views.batch_detail, name="batch"),
    path("batches/<id:batch_id>/release/", views.batch_release, name="batch_release"),
    path("batches/<id:batch_id>/cancel/", views.batch_cancel, name="batch_cancel"),
    path("batches/<id:batch_id>/files/<str:kind>/", views.batch_file, name="batch_file"),
    path("payee-accounts/", views.payee_accounts, name="payee_accounts"),
]
