from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    label = "claim_workflow"

    def ready(self):
        from claims.signals import claim_lines_changed
        from due.registry import register
        from notifications.selectors import also_read

        from . import disbursement, notice, notify, selectors, timers
        from .inbox import on_claim_lines_changed

        claim_lines_changed.connect(on_claim_lines_changed, dispatch_uid="workflow.inbox.refresh_figures")
        also_read(selectors.delegated_task_notifications)
        register(
            "workflow.withdraw_unanswered_returns",
            timers.withdraw_unanswered_returns,
            description="returned claims past their correction deadline are withdrawn",
        )
        register(
            "workflow.escalate_overdue_reviews",
            timers.escalate_overdue_reviews,
            description="review tasks past their due date are escalated to the team lead",
        )
        register(
            "workflow.deadline_reminders",
            notify.deadline_reminders,
            description="people on tasks due soon or overdue are told (and the team leads of overdue ones), once",
        )
        register(
            "workflow.close_due_notices",
            notice.close_due_notices,
            description="claims whose public notice period passed with no objection open go to finance",
        )
        register(
            "workflow.settle_forgotten_batches",
            disbursement.settle_forgotten_batches,
            description="claims of bank results whose settling task was lost (Redis down, worker killed) are settled",
        )
        register(
            "workflow.overdue_objections",
            notice.notify_overdue_objections,
            description="objections not decided by their deadline: the HR heads and team leads are told, once",
        )
