from django.urls import path

from . import (
    assignment_views,
    class_views,
    documents_views,
    inbox_views,
    notice_views,
    portal_views,
    roster_views,
    views,
)

app_name = "approvals"

urlpatterns = [
    path("inbox/", inbox_views.inbox, name="inbox"),
    path("inbox/bulk-approve/confirm/", inbox_views.bulk_confirm, name="inbox_bulk_confirm"),
    path("inbox/bulk-approve/", inbox_views.bulk_approve, name="inbox_bulk_approve"),
    path("portal/", portal_views.portal, name="portal"),
    path("tasks/<int:task_id>/", views.task_detail, name="task"),
    path("tasks/<int:task_id>/take/", views.task_take, name="task_take"),
    path("tasks/<int:task_id>/decide/", views.task_decide, name="task_decide"),
    path("tasks/<int:task_id>/reassign/", assignment_views.task_reassign, name="task_reassign"),
    path("tasks/<int:task_id>/release/", assignment_views.task_release, name="task_release"),
    path("delegations/", assignment_views.delegations, name="delegations"),
    path("delegations/<int:delegation_id>/revoke/", assignment_views.delegation_revoke, name="delegation_revoke"),
    path("tasks/<int:task_id>/lines/<int:line_no>/override/", views.line_override, name="line_override"),
    path("claims/", views.claim_list, name="claims"),
    path("claims/new/", views.claim_new, name="claim_new"),
    path("claims/import/", roster_views.roster_import, name="roster_import"),
    path("claims/import/template/", roster_views.roster_template, name="roster_template"),
    path("claims/import/<int:upload_id>/", roster_views.roster_status, name="roster_status"),
    path("claims/<int:claim_id>/", views.claim_detail, name="claim"),
    path("claims/<int:claim_id>/edit/", views.claim_edit, name="claim_edit"),
    path("claims/<int:claim_id>/submit/", views.claim_submit, name="claim_submit"),
    path("claims/<int:claim_id>/withdraw/", views.claim_withdraw, name="claim_withdraw"),
    path("claims/<int:claim_id>/attachments/", documents_views.attachment_upload, name="attachment_upload"),
    path(
        "claims/<int:claim_id>/attachments/<int:attachment_id>/",
        documents_views.attachment_download,
        name="attachment_download",
    ),
    path("claims/<int:claim_id>/comments/", documents_views.comment_post, name="comment_post"),
    path("finance/", views.finance, name="finance"),
    path("classes/", class_views.class_list, name="classes"),
    path("classes/new/", class_views.class_new, name="class_new"),
    path("classes/<int:class_id>/", class_views.class_detail, name="class"),
    path("classes/<int:class_id>/decide/", class_views.class_decide, name="class_decide"),
    path("classes/<int:class_id>/roster/", class_views.class_roster, name="class_roster"),
    path("classes/<int:class_id>/attendance/", class_views.class_attendance, name="class_attendance"),
    path("objections/", notice_views.objections, name="objections"),
    path("objections/<int:objection_id>/decide/", notice_views.objection_decide, name="objection_decide"),
    # 公示: public, no login (RULES N5).
    path("public/notice/", notice_views.public_notice, name="public_notice"),
    path("public/notice.xlsx", notice_views.public_notice_xlsx, name="public_notice_xlsx"),
    path("public/notice/objection/", notice_views.public_objection, name="public_objection"),
    path("public/notice/receipt/", notice_views.public_objection_status, name="public_objection_status"),
]
