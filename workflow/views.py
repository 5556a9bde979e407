from django.shortcuts import redirect


def open_task_in_inbox(request, process_pk, task_pk, **kwargs):
    """viewflow's execute URL for a human step: the work is done on our own task page."""
    return redirect("approvals:task", task_pk)
