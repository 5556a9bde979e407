"""The demo year's money for seed_demo: the jurisdiction's fund account, an accepted plan and
allocation for every department, and the demo providers' bank accounts. Idempotent."""

from decimal import Decimal

from django.utils import timezone

from audit import actions
from audit.services import record_event
from claims.models import Department, Jurisdiction, PolicyCategory, Provider
from payments.models import Allocation, FundAccount, FundingPlan, PayeeAccount, PlanItem, PlanStatus
from payments.services.payees import set_payee_account

# Demo allocations by department (the rest get DEFAULT_ALLOCATION): safety training is the big one.
DEMO_ALLOCATIONS = {
    "WL-YJJ": (PolicyCategory.SAFETY, 400, Decimal("600000.00")),
    "WL-MZJ": (PolicyCategory.SKILLS, 200, Decimal("300000.00")),
    "WL-RSJ": (PolicyCategory.PERSONAL_CERTIFICATE, 800, Decimal("1500000.00")),
}
DEFAULT_ALLOCATION = (PolicyCategory.SKILLS, 100, Decimal("200000.00"))
DEMO_BUDGET = Decimal("8000000.00")
DEMO_PROVIDER_ACCOUNTS = {
    "WL-P001": ("中国工商银行温岭支行", "6222020000000000011"),
    "WL-P002": ("中国农业银行温岭支行", "6228480000000000022"),
}


def ensure_demo_funds(*, jurisdiction: Jurisdiction, year: int | None = None) -> FundAccount:
    year = year or timezone.localdate().year
    account, created = FundAccount.objects.get_or_create(
        jurisdiction=jurisdiction,
        year=year,
        defaults={
            "name": f"{jurisdiction.name}职业技能提升行动专账",
            "bank_name": "中国工商银行温岭支行",
            "account_number": "1207000000000000001",
            "budget": DEMO_BUDGET,
        },
    )
    if created:
        record_event(
            actor=None,
            action=actions.FUND_ACCOUNT_CREATED,
            obj=account,
            detail={
                "jurisdiction": jurisdiction.code,
                "year": year,
                "name": account.name,
                "budget": account.budget,
                "demo": True,
            },
        )
    now = timezone.now()
    for department in Department.objects.filter(jurisdiction=jurisdiction).order_by("code"):
        if FundingPlan.objects.filter(fund_account=account, department=department).exists():
            continue
        category, headcount, amount = DEMO_ALLOCATIONS.get(department.code, DEFAULT_ALLOCATION)
        plan = FundingPlan.objects.create(
            fund_account=account,
            department=department,
            status=PlanStatus.ACCEPTED,
            total=amount,
            headcount=headcount,
            filed_at=now,
            hr_accepted_at=now,
            finance_accepted_at=now,
        )
        PlanItem.objects.create(plan=plan, category=category, headcount=headcount, amount=amount)
        allocation = Allocation.objects.create(fund_account=account, department=department, plan=plan, amount=amount)
        record_event(
            actor=None,
            action=actions.PLAN_ACCEPTED,
            obj=plan,
            to_state=plan.status,
            detail={"department": department.code, "year": year, "total": amount, "demo": True},
        )
        record_event(
            actor=None,
            action=actions.ALLOCATION_CREATED,
            obj=allocation,
            detail={"department": department.code, "year": year, "amount": amount, "demo": True},
        )
    for code, (bank_name, number) in DEMO_PROVIDER_ACCOUNTS.items():
        provider = Provider.objects.filter(code=code).first()
        if provider is not None and not PayeeAccount.objects.filter(provider=provider).exists():
            set_payee_account(
                actor=None, provider=provider, account_name=provider.name, bank_name=bank_name, account_number=number
            )
    return account
