from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    label = "claim_workflow"

    def ready(self):
        from claims.signals import claim_lines_changed

        from .inbox import on_claim_lines_changed

        claim_lines_changed.connect(on_claim_lines_changed, dispatch_uid="workflow.inbox.refresh_figures")
