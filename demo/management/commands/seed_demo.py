import datetime
from dataclasses import replace

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.models import AuditEvent
from claims import catalogue, roles
from claims.errors import DomainError
from claims.models import CertificateCheckMode, ClaimLine, Jurisdiction, PolicyVersion, SubsidyPolicy
from claims.organisation import ensure_department, ensure_jurisdiction, ensure_provider
from demo.assessment import ensure_body
from demo.catalogue import STANDARDS, versions
from demo.funds import ensure_demo_funds
from demo.occupations import ensure_demo_occupations
from workflow.staffing import ensure_staff_user

# The annex of the Wenling plan (seed 000): the departments that run training.
WENLING_DEPARTMENTS = [
    ("WL-JXJ", "市经信局", "数字经济"),
    ("WL-JYJ", "市教育局", "职业院校"),
    ("WL-ZJJ", "市住建局", "建筑"),
    ("WL-NYJ", "市农业农村和水利局", "农业农村"),
    ("WL-SWJ", "市商务局", "电子商务"),
    ("WL-TYJ", "市退役军人事务局", "退役军人"),
    ("WL-YJJ", "市应急管理局", "高危行业安全"),
    ("WL-MZJ", "市民政局", "养老护理"),
    ("WL-WJJ", "市卫生健康局", "健康"),
    ("WL-CZJ", "市财政局（国资）", "国有企业"),
    ("WL-SJJ", "市市场监管局", "小微企业、特种设备"),
    ("WL-GHJ", "市港航和渔业局", "渔业"),
    ("WL-CL", "市残联", "残疾人"),
    ("WL-HSH", "市红十字会", "应急救援"),
    ("WL-RSJ", "市人力社保局", "企业职工、重点群体"),
]

# The standards that pay for a class: their classes are filed before they start (开班备案).
# The reason on the seed's catalogue entries (a system step: the ledger asks none, the history shows it).
SEED_REASON = "seed_demo：演示补贴目录"
CLASS_STANDARDS = ("S1", "S2", "S3", "S4", "S5", "S6", "S8")

PROVIDERS = [
    ("WL-P001", "温岭市某职业技能培训学校", "91331081MA2AL0001X"),
    ("WL-P002", "温岭市某技工学校", "12331081MB0000002X"),
]


def credit_code(base17: str) -> str:
    from claims.validators import credit_code_check_char

    return base17 + credit_code_check_char(base17)


class Command(BaseCommand):
    help = "Create (or refresh) the demo jurisdiction, departments, providers, catalogue and one user per role."

    def add_arguments(self, parser):
        parser.add_argument("--password", required=True, help="password for every demo user")
        parser.add_argument(
            "--with-claims",
            action="store_true",
            help="also a few claims at each step and approved ones awaiting payment (into a database without claims)",
        )

    @transaction.atomic
    def handle(self, *args, password, with_claims=False, **options):
        # The validators every password meets (settings.AUTH_PASSWORD_VALIDATORS): checked before
        # anything is written, and again against each user's name by ensure_staff_user (a refusal
        # there rolls the whole seed back).
        try:
            validate_password(password)
        except ValidationError as error:
            raise CommandError(f"--password is too weak: {' '.join(error.messages)}") from None
        # Certificates are checked at their source by hand where no registry knows them (advisory);
        # classes starting from the day the demo is first seeded are filed before they start.
        existing = Jurisdiction.objects.filter(code="WL").first()
        filing_from = existing.class_filing_from if existing and existing.class_filing_from else datetime.date.today()
        jurisdiction = ensure_jurisdiction(
            code="WL", name="温岭市", certificate_check_mode=CertificateCheckMode.ADVISORY, class_filing_from=filing_from
        )
        departments = {
            code: ensure_department(jurisdiction=jurisdiction, code=code, name=name, sector=sector)
            for code, name, sector in WENLING_DEPARTMENTS
        }
        providers = [
            ensure_provider(jurisdiction=jurisdiction, code=code, name=name, credit_code=credit_code(base[:17]))
            for code, name, base in PROVIDERS
        ]
        self._seed_catalogue(jurisdiction)
        for policy in SubsidyPolicy.objects.filter(jurisdiction=jurisdiction, code__in=CLASS_STANDARDS):
            catalogue.set_class_filing_required(actor=None, policy=policy, required=True, reason=SEED_REASON)
        ensure_body()
        ensure_demo_occupations()
        ensure_demo_funds(jurisdiction=jurisdiction)
        staff = jurisdiction.staff_group
        # A second jurisdiction with an auditor of its own: the ledger's reads are scoped to the
        # reader's jurisdiction, and the demo shows it (auditor_yh reads none of Wenling's entries).
        neighbour = ensure_jurisdiction(code="YH", name="玉环市")
        users = [
            ("provider_clerk", roles.PROVIDER_CLERK, providers[0].staff_group, providers[0].name),
            ("provider2_clerk", roles.PROVIDER_CLERK, providers[1].staff_group, providers[1].name),
            ("dept_reviewer", roles.DEPARTMENT_REVIEWER, departments["WL-YJJ"].staff_group, "市应急管理局"),
            ("dept2_reviewer", roles.DEPARTMENT_REVIEWER, departments["WL-MZJ"].staff_group, "市民政局"),
            ("hr_reviewer", roles.HR_REVIEWER, staff, "人力社保局 审核"),
            ("hr_head", roles.HR_HEAD, staff, "人力社保局 负责人"),
            ("finance_officer", roles.FINANCE_OFFICER, staff, "财政局"),
            ("finance_officer2", roles.FINANCE_OFFICER, staff, "财政局（复核）"),
            ("auditor", roles.AUDITOR, staff, "第三方审计"),
            ("auditor_yh", roles.AUDITOR, neighbour.staff_group, "第三方审计（玉环市）"),
            ("admin", roles.ADMINISTRATOR, None, "系统管理员"),
        ]
        if with_claims:
            # The demo people click through has a team lead: 市应急管理局's lead, a department reviewer
            # of its team marked team lead, to whom its overdue reviews escalate and who reassigns or
            # releases its tasks. The tests' organisation (no claims: the API contract's, DESIGN.md)
            # keeps one reviewer per department, so its tasks reach the people v1 names.
            users.insert(3, ("dept_lead", roles.DEPARTMENT_REVIEWER, departments["WL-YJJ"].staff_group, "市应急管理局 组长"))
        leads = {"dept_lead"}
        for username, role, scope_group, description in users:
            extra = {"is_staff": True, "is_superuser": True} if role == roles.ADMINISTRATOR else {}
            if username in leads:
                extra["team_lead"] = True
            try:
                ensure_staff_user(
                    username=username,
                    password=password,
                    role=role,
                    scope_group=scope_group,
                    email=f"{username}@demo.invalid",
                    first_name=description,
                    **extra,
                )
            except ValidationError as error:
                raise CommandError(f"--password is too weak for {username}: {' '.join(error.messages)}") from None
        self.stdout.write("Demo logins (password: the one given with --password):")
        for username, role, _group, description in users:
            shown = f"{role}+{roles.TEAM_LEAD}" if username in leads else role
            self.stdout.write(f"  {username:<17} {shown:<32} {description}")
        # A demo key for signing ledger checkpoints, unless one is configured or already there.
        from django.conf import settings

        from audit.signing import create_key_file

        if not settings.AUDIT_SIGNING_KEY and create_key_file(settings.AUDIT_SIGNING_KEY_FILE):
            self.stdout.write(f"Demo audit signing key written to {settings.AUDIT_SIGNING_KEY_FILE}")
        if with_claims:
            from demo.claims import seed_demo_claims

            made = seed_demo_claims()
            if made:
                self.stdout.write(
                    f"Demo claims: {made} (a draft, one at each review step, two approved awaiting a payment batch);"
                    " two class filings (one accepted, one awaiting the department)"
                )
            # 公示 from the day the demo is seeded with claims: the claims approved from now on (the one at
            # HR's review, when someone approves it) are published before finance pays; those above were
            # approved before it and await finance. Without --with-claims (the tests' and the API
            # contract's organisation) no date is set: approval goes to finance (docs/rules.md, N5).
            if jurisdiction.public_notice_from is None:
                ensure_jurisdiction(code="WL", name="温岭市", public_notice_from=datetime.date.today())

    def _seed_catalogue(self, jurisdiction):
        """Bring the demo catalogue up to date through the catalogue services (so the ledger shows it).
        A missing version is added (closing the one before it); an existing one that differs from the
        demo is refreshed only while no line has used it and no administrator has edited it (a database
        seeded by an older seed_demo). Anything the catalogue refuses is reported and skipped."""
        edited_by_people = set(
            AuditEvent.objects.filter(
                action__in=catalogue.ACTIONS, object_type=PolicyVersion._meta.label_lower, actor__isnull=False
            ).values_list("object_id", flat=True)
        )
        for standard in STANDARDS:
            policy = SubsidyPolicy.objects.filter(jurisdiction=jurisdiction, code=standard.code).first()
            if policy is None:
                policy = catalogue.create_policy(
                    actor=None,
                    jurisdiction=jurisdiction,
                    code=standard.code,
                    name=standard.name,
                    category=standard.category,
                    payee=standard.payee,
                    reason=SEED_REASON,
                )
            else:
                catalogue.update_policy(
                    actor=None,
                    policy=policy,
                    name=standard.name,
                    category=standard.category,
                    payee=standard.payee,
                    reason=SEED_REASON,
                )
            existing = {version.version: version for version in policy.versions.select_related("base_policy")}
            for number, terms in versions(standard):
                try:
                    version = existing.get(number)
                    if version is None:
                        catalogue.add_version(actor=None, policy=policy, terms=terms, reason=SEED_REASON)
                        continue
                    if terms.valid_to is None and version.valid_to is not None and number < max(existing):
                        terms = replace(terms, valid_to=version.valid_to)  # closed by a later version: keep that
                    if str(version.pk) in edited_by_people or catalogue.has_terms(version, terms):
                        continue
                    if not ClaimLine.objects.filter(policy_version=version).exists():
                        catalogue.update_version(actor=None, version=version, terms=terms, reason=SEED_REASON)
                    elif version.demo_only != terms.demo_only:  # used: only the demo mark is brought up to date
                        catalogue.mark_demo_only(actor=None, version=version, demo_only=terms.demo_only, reason=SEED_REASON)
                except DomainError as error:
                    self.stderr.write(f"demo catalogue: {standard.code} v{number} left as it is: {error.message} {error.fields}")
                    break
