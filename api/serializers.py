"""Shapes of the API v1 (DESIGN.md "API contract v1").

Output serializers only read. A claim's input (ClaimInputSerializer) is checked by its
serializer, whose fields come from the line field table (claims/line_fields.py) and parse
each value as the service does, with the same messages: the schema shows what is taken.
The other *Input serializers document request bodies in the OpenAPI schema and bound them
(api/validation.py: lengths, numbers, dates; a value past a bound is a 400 naming the field);
their services check what the values mean (workflow/services.py) and name the failing fields.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone, translation
from django.utils.functional import lazy
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.fields import SkipField, empty

from accounts.lockout import login_username
from audit.models import AuditEvent
from claims.catalogue import VERSION_CONDITION_FIELDS, in_force
from claims.eligibility import flags_for_display, related_numbers
from claims.inputs import CLAIM_CODE_FIELDS, ENTERPRISE_FIELDS, HEADER_FIELDS, LINE_NOT_AN_OBJECT, NO_LINES
from claims.keyset import COUNT_BOUND
from claims.line_fields import BOOL, CHOICE, DATE, DECIMAL, INT, LINE_FIELDS, InputField
from claims.models import (
    AmountRule,
    CertificateType,
    CheckResult,
    Claim,
    ClaimLine,
    ClaimStatus,
    Department,
    HardshipGroup,
    Level,
    LineDecision,
    Payee,
    PaymentStatus,
    Period,
    PolicyCategory,
    PolicyVersion,
    PricingUnit,
    Provider,
    SubsidyPolicy,
)
from claims.occupations import occupations_read_once
from claims.reasons import REASONS
from claims.selectors import claim_numbers_visible_to
from workflow.steps import REVIEW_DECISIONS, STEPS

from .validation import BoundedSerializer


def money(**kwargs):
    # DRF renders a DecimalField as a string with exactly two places: "3500.00".
    return serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True, **kwargs)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class TokenLoginSerializer(AuthTokenSerializer):
    """DRF's token login, the username read as the login page reads it (accounts.lockout.login_username):
    full-width letters name the same account through the API as on the page."""

    def validate(self, attrs):
        attrs["username"] = login_username(attrs.get("username"))
        return super().validate(attrs)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires = serializers.DateTimeField(help_text="when the token stops working (a new login replaces it earlier)")


class DepartmentSerializer(serializers.ModelSerializer):
    jurisdiction = serializers.CharField(source="jurisdiction.code", read_only=True)

    class Meta:
        model = Department
        fields = ["code", "name", "sector", "jurisdiction"]


class ProviderSerializer(serializers.ModelSerializer):
    jurisdiction = serializers.CharField(source="jurisdiction.code", read_only=True)

    class Meta:
        model = Provider
        fields = ["code", "name", "credit_code", "jurisdiction"]


class PolicyVersionSerializer(serializers.ModelSerializer):
    amount_rule = serializers.ChoiceField(choices=AmountRule.choices, read_only=True)
    amount_by_level = serializers.DictField(
        child=serializers.CharField(),
        read_only=True,
        help_text='{level: amount}: the levels the version covers with their amount, cap or rate; "*" covers any level. '
        "Empty for percent_of and uplift, which take the base standard's amounts",
    )
    variant_amounts = serializers.DictField(
        child=serializers.CharField(),
        read_only=True,
        help_text='{variant: amount}: the amount for a line with that variant instead (S3 "renewal", S8 "out_of_province")',
    )
    period = serializers.ChoiceField(
        choices=Period.choices, allow_blank=True, read_only=True, help_text="per_period: month or year; empty otherwise"
    )
    percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        allow_null=True,
        read_only=True,
        help_text="percent_of: the share of the base standard; uplift: the largest uplift",
    )
    base_policy = serializers.CharField(
        source="base_policy.code",
        allow_null=True,
        read_only=True,
        help_text="percent_of and uplift: the catalogue code of the base standard",
    )
    capped_by_cost = serializers.BooleanField(
        read_only=True, help_text="pays the lesser of the computed amount and the stated cost"
    )
    unit = serializers.ChoiceField(
        choices=PricingUnit.choices,
        read_only=True,
        help_text="what one amount pays for: a person, a person's day, month or year, an enterprise (once per claim), an item",
    )
    cost_required = serializers.BooleanField(read_only=True, help_text="a line must state its actual cost (stated_cost)")
    max_items = serializers.IntegerField(
        allow_null=True, read_only=True, help_text="per item: the most items without a variant (S7: ten packages)"
    )
    # Plain strings (values of the certificate_type enumeration): a second enum of the same
    # choices would be a second name for one choice set in the schema.
    certificate_types = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="the certificate_type values the version covers; empty: any"
    )
    demo_only = serializers.BooleanField(
        read_only=True,
        help_text="true: demo data, figures no policy document (seed) states (演示数据，非政策规定); "
        "false: the figures of the cited source",
    )

    class Meta:
        model = PolicyVersion
        fields = [
            "version",
            "valid_from",
            "valid_to",
            "amount_rule",
            "amount_by_level",
            *VERSION_CONDITION_FIELDS,
            "certificate_types",
            "source",
            "notes",
            "demo_only",
            "created_at",
        ]


class PolicySerializer(serializers.ModelSerializer):
    jurisdiction = serializers.CharField(source="jurisdiction.code", read_only=True)
    category = serializers.ChoiceField(choices=PolicyCategory.choices, read_only=True)
    payee = serializers.ChoiceField(choices=Payee.choices, read_only=True)
    version_in_force = serializers.SerializerMethodField(help_text="number of the version in force today, or null")
    versions = PolicyVersionSerializer(many=True, read_only=True)

    class Meta:
        model = SubsidyPolicy
        fields = ["code", "name", "category", "payee", "jurisdiction", "version_in_force", "versions"]

    def get_version_in_force(self, policy) -> int | None:
        version = in_force(policy.versions.all(), timezone.localdate())
        return version.version if version else None


def reader_context(reader) -> dict:
    """The context a claim's serializer needs: who reads it (its flags name the claims they may see)."""
    return {"reader": reader, "claims_in_sight": {}}


class FlagSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="the rule's code: E2, E3, N3, N2, N9, E9, DUP, CERT_DUP, HARDSHIP, NO_STANDARD, LEVEL…"
    )
    message = serializers.CharField(help_text="in the request's language: Chinese by default, English with Accept-Language: en")
    source = serializers.CharField(help_text="the policy paragraph the rule comes from")
    related = serializers.ListField(
        child=serializers.CharField(),
        help_text="numbers of the claims the rule found (E2: the earlier ones) that the caller may see; the message "
        "counts the others",
    )
    overridden = serializers.BooleanField(help_text="an HR reviewer decided, with a reason, that the flag does not stop the line")
    override_reason = serializers.CharField(help_text="the written reason of the override; empty when not overridden")


class CertificateCheckSerializer(serializers.Serializer):
    result = serializers.ChoiceField(
        choices=CheckResult.choices,
        help_text="verified: the source knows it and it matches; invalid: revoked, a failing signature or a "
        "difference (flag CERT_INVALID); unknown: no source knows it (to check by hand, or flag CERT_UNKNOWN)",
    )
    source = serializers.CharField(help_text="the registry that answered; empty when none knew the certificate")
    checked_at = serializers.DateTimeField()
    occasion = serializers.CharField(help_text="submission, review or recheck")
    problems = serializers.ListField(
        child=serializers.CharField(), help_text="what differs: revoked, signature, holder, occupation, level, date"
    )


class ClaimLineSerializer(serializers.ModelSerializer):
    trainee = serializers.CharField(source="trainee.id_number_masked", read_only=True, help_text="masked resident ID number")
    trainee_name = serializers.CharField(source="name", read_only=True, help_text="the name as typed on this line")
    occupation = serializers.CharField(
        source="occupation.name", read_only=True, help_text="the occupation's name in the occupation table"
    )
    occupation_code = serializers.CharField(
        source="occupation.code",
        read_only=True,
        help_text="the occupation's code in the national occupational classification (6-31-01-03: 电工)",
    )
    level = serializers.ChoiceField(choices=Level.choices, read_only=True)
    certificate_type = serializers.ChoiceField(choices=CertificateType.choices, read_only=True)
    # Blank when the line is of no hardship group: the schema's enum says so ("" is one of its values).
    hardship_group = serializers.ChoiceField(choices=HardshipGroup.choices, allow_blank=True, read_only=True)
    stated_cost = money(allow_null=True)
    amount = money()
    rule_version = serializers.SerializerMethodField(help_text='the catalogue version that priced the line, e.g. "S3 v2"')
    rule_version_demo_only = serializers.SerializerMethodField(
        help_text="true when that version's figures are demo data that no policy document states (演示数据，非政策规定)"
    )
    explanation = serializers.CharField(
        source="localized_explanation",
        read_only=True,
        help_text="how the amount was computed, in the request's language: Chinese by default, English with "
        "Accept-Language: en (a line priced before its English was kept: Chinese)",
    )
    flags = serializers.SerializerMethodField(help_text="the line's flags; empty when the line is clean")
    decision = serializers.ChoiceField(choices=LineDecision.choices, read_only=True)
    payment_status = serializers.ChoiceField(choices=PaymentStatus.choices, read_only=True)
    batch = serializers.SerializerMethodField(
        help_text="the number of the payment batch the line is (or was last) in; null before any"
    )
    certificate_check = serializers.SerializerMethodField(
        help_text="the latest check of the certificate at its source (联网核查); null before the claim is submitted"
    )

    class Meta:
        model = ClaimLine
        fields = [
            "id",
            "line_no",
            "trainee",
            "trainee_name",
            "occupation",
            "occupation_code",
            "level",
            "certificate_type",
            "certificate_number",
            "certificate_issuer",
            "certificate_date",
            "training_days",
            "stated_cost",
            "variant",
            "hardship_group",
            "free_training",
            "periods",
            "amount",
            "rule_version",
            "rule_version_demo_only",
            "explanation",
            "flags",
            "decision",
            "decision_reason",
            "payment_status",
            "batch",
            "certificate_check",
        ]
        read_only_fields = fields

    @extend_schema_field(CertificateCheckSerializer(allow_null=True))
    def get_certificate_check(self, line) -> dict | None:
        check = next(iter(line.certificate_checks.all()), None)  # prefetched latest first (api.views.with_lines)
        if check is None:
            return None
        return {
            "result": check.result,
            "source": check.source,
            "checked_at": check.checked_at,
            "occasion": check.occasion,
            "problems": [problem["code"] for problem in check.problems],
        }

    def get_batch(self, line) -> str | None:
        if hasattr(line, "batch_number"):  # annotated by the claim query (api.views.with_lines)
            return line.batch_number
        from payments.selectors.results import line_payment_info

        return line_payment_info([line.pk]).get(line.pk, {}).get("batch")

    def get_rule_version(self, line) -> str | None:
        return str(line.policy_version) if line.policy_version_id else None

    def get_rule_version_demo_only(self, line) -> bool:
        return bool(line.policy_version_id and line.policy_version.demo_only)

    @extend_schema_field(FlagSerializer(many=True))
    def get_flags(self, line) -> list[dict]:
        return [
            {key: flag[key] for key in ("code", "message", "source", "related", "overridden", "override_reason")}
            for flag in flags_for_display(line, visible_claims=self._claims_in_sight(line))
        ]

    def _claims_in_sight(self, line) -> frozenset[str]:
        """The claims the line's flags name that the reader (reader_context) may see: asked once
        per number for the whole response, and only of the lines whose flags name claims."""
        reader, known = self.context["reader"], self.context["claims_in_sight"]
        numbers = related_numbers(line.flags)
        unknown = numbers - known.keys()
        if unknown:
            seen = claim_numbers_visible_to(reader, unknown)
            known.update({number: number in seen for number in unknown})
        return frozenset(number for number in numbers if known[number])


class ClaimSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=ClaimStatus.choices, read_only=True)
    step = serializers.SerializerMethodField(help_text="the open step of the claim's flow, or null")
    task = serializers.SerializerMethodField(help_text="id of the open step's task, or null")
    jurisdiction = serializers.CharField(source="jurisdiction.code", read_only=True)
    department = serializers.CharField(source="department.code", read_only=True)
    provider = serializers.CharField(source="provider.code", read_only=True)
    policy = serializers.CharField(source="policy.code", read_only=True)
    total = money()
    lines = ClaimLineSerializer(many=True, read_only=True)

    class Meta:
        model = Claim
        fields = [
            "id",
            "number",
            "status",
            "step",
            "task",
            "jurisdiction",
            "department",
            "provider",
            "policy",
            "class_name",
            "training_start",
            "training_end",
            "enterprise_name",
            "enterprise_credit_code",
            "total",
            "created_at",
            "submitted_at",
            "lines",
        ]
        read_only_fields = fields

    def get_fields(self):
        # "class" is a Python keyword: the filed class's id, declared here rather than as an attribute.
        fields = super().get_fields()
        fields["class"] = serializers.IntegerField(
            source="training_class_id", read_only=True, allow_null=True, help_text="the filed class's id (开班备案), or null"
        )
        return fields

    # Claims come annotated by workflow.selectors.with_open_step (no query per claim).
    @extend_schema_field(serializers.ChoiceField(choices=list(STEPS), allow_null=True))
    def get_step(self, claim) -> str | None:
        return claim.open_flow_task.name if claim.open_flow_task else None

    def get_task(self, claim) -> int | None:
        return claim.open_task_id


class TaskSerializer(serializers.Serializer):
    """A task in the inbox's shape (workflow.models.InboxItem; a done task read by id is given
    the same shape by workflow.selectors.task_item)."""

    id = serializers.IntegerField(source="task_id", read_only=True)
    claim = serializers.IntegerField(source="claim_id", read_only=True)
    claim_number = serializers.CharField(read_only=True)
    step = serializers.ChoiceField(choices=list(STEPS), read_only=True)
    status = serializers.SerializerMethodField(help_text="viewflow's task status, lowercase: new, assigned, started, done…")
    assigned_to = serializers.SerializerMethodField(help_text="username of the person holding the task, or null")
    created = serializers.DateTimeField(read_only=True)
    due = serializers.DateField(
        read_only=True,
        help_text="the last day of the step's time limit: created + its working days on the jurisdiction's calendar "
        "(weekends, public holidays and adjusted working days), local time; the pages show the same date",
    )
    due_state = serializers.ChoiceField(
        choices=["", "due_soon", "overdue"],
        read_only=True,
        help_text='"overdue" after the due date, "due_soon" within 2 working days of it, "" otherwise or when done',
    )
    escalated = serializers.BooleanField(read_only=True, help_text="overdue and escalated to the team lead")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True, help_text="the claim's total")
    flagged_lines = serializers.IntegerField(read_only=True, help_text="lines of the claim with a flag")
    resubmitted = serializers.BooleanField(read_only=True, help_text="the claim came back from a correction")
    changes = serializers.JSONField(
        read_only=True,
        help_text='what the last resubmission changed since the claim was returned: {"changes": [{"field": name} | '
        '{"line": n, "field": name} | {"line": n, "change": "added" | "removed"}], "total_before": "…", "total": "…"}; '
        "{} when not resubmitted",
    )
    class_name = serializers.CharField(read_only=True, help_text="the claim's class name")
    submitted = serializers.DateTimeField(read_only=True, allow_null=True, help_text="when the claim was first submitted")

    def get_status(self, item) -> str:
        return str(item.status).lower()

    def get_assigned_to(self, item) -> str | None:
        return item.owner.get_username() if item.owner_id else None


@extend_schema_serializer(many=False)  # a page: the list action's answer, not a list of them
class TaskPageSerializer(serializers.Serializer):
    """A page of the caller's tasks, oldest first (keyset pages: ``next`` continues after the last row)."""

    count = serializers.IntegerField(help_text=f"tasks in the list, exact up to {COUNT_BOUND:,} (then count_capped)")
    count_capped = serializers.BooleanField(help_text="true: there are more tasks than `count`")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True, help_text="always null: start again without `cursor`")
    results = TaskSerializer(many=True)


@extend_schema_serializer(many=False)  # a page: the list action's answer, not a list of them
class ClaimPageSerializer(serializers.Serializer):
    """A page of the caller's claims, newest first (keyset pages: ``next`` continues after the last row)."""

    count = serializers.IntegerField(help_text=f"claims in the list, exact up to {COUNT_BOUND:,} (then count_capped)")
    count_capped = serializers.BooleanField(help_text="true: there are more claims than `count`")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True, help_text="with `page` only; null on keyset pages")
    results = ClaimSerializer(many=True)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_username", read_only=True, help_text="the acting user's username")

    class Meta:
        model = AuditEvent
        fields = ["seq", "at", "actor", "action", "from_state", "to_state", "reason", "detail", "prev_hash", "hash"]
        read_only_fields = fields


class VerifySerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    events = serializers.IntegerField()
    head_hash = serializers.CharField()
    first_bad_seq = serializers.IntegerField(allow_null=True)


# Request bodies.


def _in_english(text) -> str:
    with translation.override("en"):
        return str(text)


in_english = lazy(_in_english, str)  # the schema is in English; the table's help texts are Chinese msgids


class InputFieldMixin:
    """A field checked by its InputField (claims/line_fields.py): the value and the messages the
    service's own parsing gives. The DRF field it is mixed into gives only its schema."""

    def __init__(self, spec: InputField, **kwargs):
        self.spec = spec
        super().__init__(required=spec.required, help_text=in_english(spec.help_text) if spec.help_text else None, **kwargs)

    def run_validation(self, data=empty):
        if data is empty:
            if self.parent is self.root and self.root.partial:
                raise SkipField()  # PATCH: a claim field left out keeps its value (a line is always whole)
            data = None
        try:
            return self.spec.parse(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None


class TextInputField(InputFieldMixin, serializers.CharField):
    pass


class ChoiceInputField(InputFieldMixin, serializers.ChoiceField):
    pass


class DateInputField(InputFieldMixin, serializers.DateField):
    pass


class IntegerInputField(InputFieldMixin, serializers.IntegerField):
    pass


class DecimalInputField(InputFieldMixin, serializers.DecimalField):
    pass


class BooleanInputField(InputFieldMixin, serializers.BooleanField):
    pass


def input_field(spec: InputField) -> serializers.Field:
    optional = not spec.required
    if spec.kind == CHOICE:
        return ChoiceInputField(spec, choices=spec.choices.choices, allow_blank=optional)
    if spec.kind == DATE:
        return DateInputField(spec)
    if spec.kind == INT:
        return IntegerInputField(spec, min_value=spec.min_value, max_value=spec.max_value, allow_null=optional)
    if spec.kind == DECIMAL:
        return DecimalInputField(
            spec, max_digits=spec.max_digits, decimal_places=2, min_value=spec.min_value, allow_null=optional
        )
    if spec.kind == BOOL:
        return BooleanInputField(spec)
    return TextInputField(spec, max_length=spec.max_length, allow_blank=optional)


class ClaimLinesInputSerializer(serializers.ListSerializer):
    """A claim's lines: a list of at least one object, each a ClaimLineInputSerializer; problems
    keyed as the service keys them (``lines``, ``lines[2]``, ``lines[2].level``)."""

    def run_validation(self, data=empty):
        if data is empty:
            if self.root.partial:
                raise SkipField()
            data = None
        if not isinstance(data, list) or not data:
            raise serializers.ValidationError([str(NO_LINES)])
        lines, errors = [], []
        with occupations_read_once():  # thousands of lines name a few occupations
            for row in data:
                if not isinstance(row, dict):
                    errors.append([str(LINE_NOT_AN_OBJECT)])
                    continue
                try:
                    lines.append(self.child.run_validation(row))
                    errors.append({})
                except serializers.ValidationError as error:
                    errors.append(error.detail)
        if any(errors):
            raise serializers.ValidationError(errors)
        return lines


# (Comments, not docstrings, on the next two: a docstring would be the schema's description.)
# A claim line: a field for each field of the line field table (claims/line_fields.py).
class ClaimLineInputSerializer(serializers.Serializer):
    class Meta:
        list_serializer_class = ClaimLinesInputSerializer

    def get_fields(self):
        return {spec.name: input_field(spec) for spec in LINE_FIELDS}


# A claim's header and lines (partial for PATCH), each field checked as the service parses it.
# What takes several fields or the database (the codes in the caller's scope, the training end
# after its start) is left to the service (claims.services).
class ClaimInputSerializer(serializers.Serializer):
    def get_fields(self):
        fields = {spec.name: input_field(spec) for spec in (*CLAIM_CODE_FIELDS, *HEADER_FIELDS, *ENTERPRISE_FIELDS)}
        fields["lines"] = ClaimLineInputSerializer(many=True, help_text="on PATCH, replaces every line")
        return fields


class LineDecisionInputSerializer(BoundedSerializer):
    line = serializers.IntegerField(help_text="the line's line_no")
    decision = serializers.ChoiceField(choices=[LineDecision.APPROVE, LineDecision.REJECT])
    reason = serializers.ChoiceField(choices=list(REASONS), required=False, help_text="reason code, required to reject")


class FixInputSerializer(BoundedSerializer):
    lines = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="line numbers to fix")
    fields = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="fields to fix: a line's (certificate_number, level…) or the claim's (class_name, training_start, training_end)",
    )
    attachments = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="ids of the claim's documents the return points at (GET /api/v1/claims/{id}/attachments/)",
    )


class DecisionInputSerializer(BoundedSerializer):
    decision = serializers.ChoiceField(choices=[str(value) for value in REVIEW_DECISIONS])
    comment = serializers.CharField(required=False, help_text="required to return or reject")
    reason = serializers.ChoiceField(choices=list(REASONS), required=False, help_text="reason code, required to reject")
    lines = LineDecisionInputSerializer(many=True, required=False, help_text="per-line decisions; lines not named are approved")
    fix = FixInputSerializer(
        required=False,
        help_text="with a return: what to fix. A resubmission changing only that goes back to the returning HR step; "
        "any other change (or none named and an amount raised) goes to the department's review",
    )


class WithdrawInputSerializer(BoundedSerializer):
    reason = serializers.CharField(help_text="why the provider withdraws the claim (required; kept in the ledger)")


class OverrideInputSerializer(BoundedSerializer):
    code = serializers.CharField(help_text="the code of a flag the line carries (E2, N2…)")
    reason = serializers.CharField(help_text="why the flag does not stop the line (required)")
