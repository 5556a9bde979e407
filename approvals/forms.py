"""Forms of the pages. They only shape the input: every rule is checked by the services,
whose errors (keyed by path, ``lines[3].id_number``) are put back on the fields here."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from claims.bounds import TEXT_MAX_LENGTH
from claims.dates import date_text
from claims.inputs import CLASS_FIELD, ENTERPRISE_FIELDS
from claims.line_fields import BOOL, CHOICE, DATE, DECIMAL, INT, LINE_FIELDS, InputField
from claims.models import Claim, ClassStatus, LineDecision, SubsidyPolicy, TrainingClass
from claims.personal_data import decrypt_id_number
from claims.reasons import REASONS
from claims.selectors import departments_visible_to, providers_of_clerk
from claims.widgets import DATE_INPUT, ManyCheckboxes, ManySelect
from workflow.labels import fix_field_label
from workflow.policy import FIXABLE_HEADER_FIELDS, FIXABLE_LINE_FIELDS
from workflow.services import LineDecisionInput

BLANK = [("", "—")]
LINE_PATH_PREFIX = "lines["


def _split_line_path(path: str) -> tuple[int, str | None] | None:
    """``lines[3].id_number`` → (3, "id_number"); ``lines[3]`` → (3, None); anything else → None."""
    if not path.startswith(LINE_PATH_PREFIX) or "]" not in path:
        return None
    index_text, _sep, rest = path[len(LINE_PATH_PREFIX) :].partition("]")
    try:
        index = int(index_text)
    except ValueError:
        return None
    return index, rest.lstrip(".") or None


def coded_reason_choices() -> list[tuple[str, str]]:
    """The reason codes with their labels ("E2 …") in the language of the page being shown: a
    callable, so that a field declared on the class builds its list for each request, not once
    at import (the labels are lazy; formatting them at import froze them in Chinese)."""
    return BLANK + [(code, f"{code} {label}") for code, label in REASONS.items()]


def _add_errors(form: forms.Form, field: str | None, messages) -> None:
    for message in messages:
        form.add_error(field if field in form.fields else None, message)


# --- reviewing ---------------------------------------------------------------------------


class SubmitConfirmForm(forms.Form):
    """Submitting a claim cannot be taken back (only withdrawn): the clerk ticks that they checked it."""

    confirm = forms.BooleanField(
        label=_("我已核对申领内容，确认提交"), error_messages={"required": _("请勾选“我已核对申领内容，确认提交”后再提交。")}
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("审核决定"),
        widget=forms.RadioSelect,
        choices=[
            ("approve", pgettext_lazy("decision", "同意")),
            ("return", pgettext_lazy("decision", "退回修改")),
            ("reject", pgettext_lazy("decision", "不予补贴")),
        ],
    )
    comment = forms.CharField(
        label=_("审核意见"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=TEXT_MAX_LENGTH
    )
    reason = forms.ChoiceField(
        label=_("不予补贴理由代码"),
        required=False,
        choices=coded_reason_choices,
    )

    # With a return: what to fix (the API's ``fix``). A resubmission changing only that goes back
    # to this step; any other change goes to the department's review.
    fix_lines = forms.TypedMultipleChoiceField(label=_("要求修改的行"), required=False, coerce=int, widget=ManyCheckboxes)
    fix_fields = forms.MultipleChoiceField(label=_("要求修改的字段"), required=False, widget=forms.CheckboxSelectMultiple)
    # The claim's documents the return points at (材料不全: this scan is unreadable, that invoice is missing a stamp).
    fix_attachments = forms.TypedMultipleChoiceField(
        label=_("需补充或更正的材料"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, lines=(), attachments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        self.fields["fix_attachments"].choices = [
            (document.pk, f"{document.get_kind_display()} · {document.filename}") for document in attachments
        ]
        self._sent_lines: list[int] = []
        self.fields["fix_lines"].choices = [(line.line_no, line.line_no) for line in self.lines]
        self.fields["fix_fields"].choices = [
            (name, fix_field_label(name)) for name in (*FIXABLE_HEADER_FIELDS, *FIXABLE_LINE_FIELDS)
        ]
        # Each line's two lists, built once for the form (a claim may have thousands of lines).
        line_decision_choices = [
            ("", str(_("随整体决定"))),
            (LineDecision.APPROVE, str(pgettext_lazy("decision", "同意"))),
            (LineDecision.REJECT, str(pgettext_lazy("decision", "驳回"))),
        ]
        reason_choices = coded_reason_choices()
        for line in self.lines:
            self.fields[self.line_field(line.line_no, "decision")] = forms.ChoiceField(
                label=_("第 %(n)d 行决定") % {"n": line.line_no},
                required=False,
                choices=line_decision_choices,
                widget=ManySelect,
            )
            self.fields[self.line_field(line.line_no, "reason")] = forms.ChoiceField(
                label=_("第 %(n)d 行理由代码") % {"n": line.line_no},
                required=False,
                choices=reason_choices,
                widget=ManySelect,
            )

    @staticmethod
    def line_field(line_no: int, name: str) -> str:
        return f"line_{line_no}_{name}"

    def rows(self):
        """Each line with its two bound fields, for the lines table."""
        for line in self.lines:
            yield line, self[self.line_field(line.line_no, "decision")], self[self.line_field(line.line_no, "reason")]

    def line_decisions(self) -> list[LineDecisionInput]:
        """The per-line choices the reviewer made (lines left on the default are not sent)."""
        chosen = []
        self._sent_lines = []
        for line in self.lines:
            decision = self.cleaned_data.get(self.line_field(line.line_no, "decision"))
            if decision:
                reason = self.cleaned_data.get(self.line_field(line.line_no, "reason")) or ""
                chosen.append(LineDecisionInput(line=line.line_no, decision=decision, reason=reason))
                self._sent_lines.append(line.line_no)
        return chosen

    def fix(self) -> dict | None:
        """What the reviewer asked to fix, or None when nothing is ticked."""
        lines, fields = self.cleaned_data.get("fix_lines") or [], self.cleaned_data.get("fix_fields") or []
        documents = self.cleaned_data.get("fix_attachments") or []
        if not (lines or fields or documents):
            return None
        return {"lines": lines, "fields": fields, **({"attachments": documents} if documents else {})}

    def add_service_errors(self, fields: dict) -> None:
        for path, messages in fields.items():
            if path.startswith("fix."):
                field = "fix_lines" if path.startswith("fix.lines") else "fix_fields"
                _add_errors(self, "fix_attachments" if path.startswith("fix.attachments") else field, messages)
                continue
            split = _split_line_path(path)
            if split is None:
                _add_errors(self, path, messages)
                continue
            index, name = split
            if index < len(self._sent_lines) and name in ("decision", "reason"):
                _add_errors(self, self.line_field(self._sent_lines[index], name), messages)
            else:
                _add_errors(self, None, messages)


# --- drafting ------------------------------------------------------------------------------


class ClaimHeaderForm(forms.Form):
    provider = forms.ChoiceField(label=_("培训机构"), required=False)
    department = forms.ChoiceField(label=_("行业主管部门"), required=False)
    policy = forms.ChoiceField(label=_("补贴标准"), required=False)
    class_name = forms.CharField(label=_("班级名称"), required=False, max_length=200)
    training_start = forms.CharField(label=_("培训开始"), required=False, widget=DATE_INPUT)
    training_end = forms.CharField(label=_("培训结束"), required=False, widget=DATE_INPUT)
    # The enterprise paid under S10–S14 (claims.inputs.ENTERPRISE_FIELDS); left blank otherwise.
    enterprise_name = forms.CharField(
        label=ENTERPRISE_FIELDS[0].label, required=False, max_length=200, help_text=ENTERPRISE_FIELDS[0].help_text
    )
    enterprise_credit_code = forms.CharField(
        label=ENTERPRISE_FIELDS[1].label, required=False, max_length=18, help_text=ENTERPRISE_FIELDS[1].help_text
    )

    def __init__(self, *args, user, claim: Claim | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if claim is None:
            providers = list(providers_of_clerk(user))
            jurisdictions = {provider.jurisdiction_id for provider in providers}
        else:
            providers = []
            jurisdictions = {claim.jurisdiction_id}
        if len(providers) > 1:
            self.fields["provider"].choices = BLANK + [(p.code, p.name) for p in providers]
        else:
            del self.fields["provider"]
        departments = departments_visible_to(user).filter(jurisdiction__in=jurisdictions)
        self.fields["department"].choices = BLANK + [(d.code, d.name) for d in departments]
        policies = SubsidyPolicy.objects.filter(jurisdiction__in=jurisdictions)
        self.fields["policy"].choices = BLANK + [(p.code, f"{p.code} {p.name}") for p in policies]
        # The filed class the claim is for (开班备案): the provider's accepted classes.
        owners = [claim.provider_id] if claim is not None else [provider.pk for provider in providers]
        classes = TrainingClass.objects.filter(provider__in=owners, status=ClassStatus.ACCEPTED).order_by("-start")
        self.fields["class"] = forms.ChoiceField(
            label=CLASS_FIELD.label,
            required=False,
            choices=BLANK + [(str(c.pk), f"{c.number} {c.name}（{date_text(c.start)}）") for c in classes],
            help_text=_("须开班备案的标准：选择已确认备案的班级。"),
        )

    def data_for_service(self) -> dict:
        data = {key: value for key, value in self.cleaned_data.items() if key != "provider" or value}
        data["class"] = data.get("class") or None
        return data

    def fix(self) -> dict | None:
        """What the reviewer asked to fix, or None when nothing is ticked."""
        lines, fields = self.cleaned_data.get("fix_lines") or [], self.cleaned_data.get("fix_fields") or []
        return {"lines": lines, "fields": fields} if lines or fields else None

    def add_service_errors(self, fields: dict) -> None:
        for path, messages in fields.items():
            if path.startswith("fix."):
                _add_errors(self, "fix_lines" if path.startswith("fix.lines") else "fix_fields", messages)
                continue
            if _split_line_path(path) is None and path != "lines":
                _add_errors(self, path, messages)


def _line_form_field(spec: InputField) -> forms.Field:
    """The form field of a line field (claims/line_fields.py). Each takes the text as typed
    (required=False): the service parses it and names what is wrong."""
    common = {"label": spec.label, "required": False, "help_text": spec.help_text}
    if spec.kind == CHOICE:
        return forms.ChoiceField(choices=BLANK + list(spec.choices.choices), **common)
    if spec.kind == DATE:
        return forms.CharField(widget=DATE_INPUT, **common)
    if spec.kind == INT:
        return forms.CharField(widget=forms.NumberInput(attrs={"min": spec.min_value, "max": spec.max_value}), **common)
    if spec.kind == DECIMAL:
        return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common)
    if spec.kind == BOOL:
        return forms.BooleanField(**common)
    return forms.CharField(max_length=spec.max_length, **common)


LINE_FIELD_NAMES = tuple(spec.name for spec in LINE_FIELDS)


class BaseLineForm(forms.Form):
    # The line number this row had when the form was opened (edit only): its stored ID number
    # is used when the ID field is left blank, so the number is never sent to the browser.
    existing = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def is_blank(self) -> bool:
        return not any(self.cleaned_data.get(name) for name in (*LINE_FIELD_NAMES, "existing"))


# One row of the claim form: a field for every line field, in the table's order.
LineForm = type("LineForm", (BaseLineForm,), {spec.name: _line_form_field(spec) for spec in LINE_FIELDS})


# The lines the claim form carries. It posts 19 fields a line (the line's, its number, its delete
# box): a thousand lines are 19,000 fields and about 1 MB as a browser encodes them, within what
# Django takes of a request (settings.DATA_UPLOAD_MAX_NUMBER_FIELDS; DATA_UPLOAD_MAX_MEMORY_SIZE,
# 2.5 MB). A larger claim is corrected through its roster or the API.
FORM_LINES_MAX = 1_000


def line_formset(*, data=None, claim: Claim | None = None, blank_rows: int = 3) -> forms.BaseFormSet:
    """Rows of the claim (masked ID as placeholder), or blank rows for a new claim."""
    initial = []
    if claim is not None:
        for line in claim.lines.select_related("trainee", "occupation"):
            initial.append(
                {
                    "existing": line.line_no,
                    **{spec.name: spec.stored_value(line) for spec in LINE_FIELDS if spec.stored_as is not None},
                }
            )
    formset_class = forms.formset_factory(
        LineForm, extra=0 if initial else blank_rows, can_delete=True, max_num=FORM_LINES_MAX, validate_max=True
    )
    formset = formset_class(data=data, initial=initial or None, prefix="lines")
    if claim is not None:
        masked = {line.line_no: line.trainee.id_number_masked for line in claim.lines.select_related("trainee")}
        for form in formset.forms:
            existing = form.initial.get("existing") or form.data.get(form.add_prefix("existing"))
            try:
                placeholder = masked.get(int(existing)) if existing else None
            except ValueError:
                placeholder = None
            if placeholder:
                form.fields["id_number"].widget.attrs["placeholder"] = placeholder
    return formset


def with_added_row(data):
    """The posted data with one more (blank) row: the 'add row' button works without JavaScript."""
    data = data.copy()
    key = "lines-TOTAL_FORMS"
    try:
        data[key] = str(int(data.get(key, "0")) + 1)
    except ValueError:
        pass
    return data


def lines_for_service(formset, claim: Claim | None = None) -> tuple[list[dict], list[int]]:
    """The rows to send (blank and deleted rows left out), and for each the index of its form."""
    stored = {}
    if claim is not None:
        stored = {line.line_no: line.trainee.id_number_encrypted for line in claim.lines.select_related("trainee")}
    rows, form_index = [], []
    for index, form in enumerate(formset.forms):
        if form.cleaned_data.get("DELETE") or form.is_blank():
            continue
        row = {name: form.cleaned_data.get(name) for name in LINE_FIELD_NAMES}
        existing = form.cleaned_data.get("existing")
        if not row["id_number"] and existing in stored:
            row["id_number"] = decrypt_id_number(stored[existing])
        rows.append(row)
        form_index.append(index)
    return rows, form_index


def add_line_errors(formset, form_index: list[int], fields: dict) -> list[str]:
    """Put ``lines[i].field`` errors on the row that was sent as line i; return the claim-level line errors."""
    general = []
    for path, messages in fields.items():
        if path == "lines":
            general.extend(messages)
            continue
        split = _split_line_path(path)
        if split is None:
            continue
        index, name = split
        if index < len(form_index):
            _add_errors(formset.forms[form_index[index]], name, messages)
        else:
            general.extend(messages)
    return general


class DelegationForm(forms.Form):
    """A substitute for a date range; the service checks who and when (workflow.assignment)."""

    substitute = forms.CharField(label=_("代理人（用户名）"), max_length=150)
    starts_on = forms.DateField(label=_("开始日期"), widget=DATE_INPUT)
    ends_on = forms.DateField(label=_("结束日期"), widget=DATE_INPUT)
    reason = forms.CharField(label=_("事由"), max_length=200)


class RevokeDelegationForm(forms.Form):
    """Why a delegation ends early (kept in the ledger's entry of the revocation)."""

    reason = forms.CharField(label=_("撤销理由"), max_length=200)


class ReassignForm(forms.Form):
    to = forms.ChoiceField(label=_("改派给"))
    reason = forms.CharField(label=_("理由"), max_length=200)

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = [
            (person.get_username(), person.get_full_name() or person.get_username()) for person in people
        ]


class ReleaseForm(forms.Form):
    reason = forms.CharField(label=_("理由"), max_length=200)
