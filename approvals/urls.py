from django.urls import path

from . import views

app_name = "approvals"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("tasks/<int:task_id>/", views.task_detail, name="task"),
]
