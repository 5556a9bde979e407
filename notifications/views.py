"""The person's own notifications (the bell's list, mark as read) and their e-mail choices.
Thin: reads from notifications.selectors, writes through notifications.services."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from claims.http import scoped

from . import selectors, services
from .forms import PreferencesForm

PAGE_SIZE = 50


def link_of(notification) -> str:
    """Where a notification leads: its task, else its claim, else its class."""
    if notification.task_id:
        return reverse("approvals:task", args=[notification.task_id])
    if notification.claim_id:
        return reverse("approvals:claim", args=[notification.claim_id])
    return reverse("approvals:class", args=[notification.training_class_id])


@require_safe
@scoped
def notification_list(request):
    unread_only = request.GET.get("unread") == "1"
    items = selectors.notifications_of(request.user, unread_only=unread_only)
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    for item in page:
        item.link = link_of(item)
    return render(request, "notifications/list.html", {"page": page, "unread_only": unread_only})


def _back(request) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("notifications:list")


@require_POST
@scoped
def notification_read(request, notification_id):
    if not services.mark_read(user=request.user, notification_id=notification_id):
        raise Http404
    return redirect(_back(request))


@require_POST
@scoped
def notification_read_all(request):
    count = services.mark_all_read(user=request.user)
    messages.success(request, _("已将 %(count)d 条通知标为已读。") % {"count": count})
    return redirect(_back(request))


@scoped
def preferences(request):
    form = PreferencesForm(request.POST or None, initial=selectors.preferences_of(request.user))
    if request.method == "POST" and form.is_valid():
        services.set_preferences(user=request.user, channels=form.cleaned_data)
        messages.success(request, _("通知方式已保存。"))
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form}, status=400 if form.errors else 200)
