"""Check the certificates of submitted claims at their source again (联网核查): a certificate
revoked since flags its line, and a paid line whose certificate was revoked gets a recovery order."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from workflow.certificates import claims_to_recheck, recheck_claim_certificates


class Command(BaseCommand):
    help = (
        "Re-check the certificates of submitted claims against their registries (opens recovery orders for revoked paid lines)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--by", required=True, help="username of the person running the check (recorded in the ledger)")
        parser.add_argument("--claim", action="append", default=[], help="a claim number (repeat for several); default: all")

    def handle(self, *args, by, claim, **options):
        actor = get_user_model().objects.filter(username=by, is_active=True).first()
        if actor is None:
            raise CommandError(f"no active user {by!r}")
        claims = claims_to_recheck()
        if claim:
            claims = claims.filter(number__in=claim)
            missing = set(claim) - set(claims.values_list("number", flat=True))
            if missing:
                raise CommandError(f"no submitted claim {', '.join(sorted(missing))}")
        checked = recovered = 0
        for one in claims.iterator():
            outcome = recheck_claim_certificates(actor=actor, claim=one)
            checked += 1
            recovered += len(outcome["recoveries"])
            results = ", ".join(f"{name} {count}" for name, count in sorted(outcome["results"].items()))
            self.stdout.write(
                f"{outcome['claim']}: {results}" + (f"; recovery orders {outcome['recoveries']}" if outcome["recoveries"] else "")
            )
        self.stdout.write(f"{checked} claim(s) checked, {recovered} recovery order(s) opened")
