"""Page numbers in the API: one reading of a page number (a whole number from 1 to
MAX_PAGE_NUMBER, else 400 naming the parameter) and one paginator, DRF's default
(settings.REST_FRAMEWORK), for every page-numbered list. A page past the end is bad input too
(400 naming ``page``): 404 means an object outside the caller's scope (DESIGN, API contract v1)."""

from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination

from claims.bounds import whole_number
from claims.errors import InvalidInput

# No list has a million pages; the bound keeps a page's OFFSET (page x size) far inside bigint.
MAX_PAGE_NUMBER = 10**6


def page_error(name: str, message: str) -> InvalidInput:
    return InvalidInput(_("分页参数有误。"), fields={name: [message]})


def positive_int_param(request, name: str, default: int, maximum: int | None = None) -> int:
    """A whole number from 1 to MAX_PAGE_NUMBER from the query string (``default`` when absent); past
    ``maximum`` it is taken as ``maximum`` (a page size); anything else is refused, naming the parameter."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    value = whole_number(raw, maximum=MAX_PAGE_NUMBER) or 0
    if not 1 <= value <= MAX_PAGE_NUMBER:
        raise page_error(name, _("须为 1 至 %(max)s 的整数。") % {"max": MAX_PAGE_NUMBER})
    return min(value, maximum) if maximum else value


def past_the_end(name: str = "page") -> InvalidInput:
    return page_error(name, _("没有这一页。"))


class Pagination(PageNumberPagination):
    """DRF's page numbers (``{count, next, previous, results}``), refusing a page that is no page with a 400."""

    def get_page_number(self, request, paginator):
        return positive_int_param(request, self.page_query_param, 1)

    def get_page_size(self, request):
        if self.page_size_query_param:
            return positive_int_param(request, self.page_size_query_param, self.page_size, self.max_page_size)
        return self.page_size

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:  # a page number past the last page (DRF's "Invalid page.")
            raise past_the_end(self.page_query_param) from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"].update(minimum=1, maximum=MAX_PAGE_NUMBER)
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1)
        return parameters
