"""Grant the application's PostgreSQL role what it needs, and on the ledger no more than
SELECT and INSERT (README, "Running in production": the database roles).

Run it as the role that owns the tables (the one `migrate` runs as), after every `migrate`:
new tables get their grants, and a grant widened by hand is narrowed again. The owner of a
table bypasses every grant and may disable the ledger's append-only triggers, so the
application's role must own no table: the command refuses a role that does."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from audit.models import AuditEvent, Checkpoint, SubtreeHash

# Entries and checkpoints are append-only; the subtree cache is only ever added to.
LEDGER_TABLES = tuple(model._meta.db_table for model in (AuditEvent, Checkpoint, SubtreeHash))
# Read by `check`'s migration checks; written only by `migrate`, as the owner.
READ_ONLY_TABLES = ("django_migrations",)


def app_role_grants(role: str, tables: list[str]) -> list[str]:
    """The statements that leave ``role`` with exactly the application's privileges on ``tables``."""
    quote = connection.ops.quote_name
    who = quote(role)
    statements = ["GRANT USAGE ON SCHEMA public TO " + who]
    for table in sorted(tables):
        name = quote(table)
        statements.append(f"REVOKE ALL ON TABLE {name} FROM {who}")
        if table in LEDGER_TABLES or table in READ_ONLY_TABLES:
            privileges = "SELECT" if table in READ_ONLY_TABLES else "SELECT, INSERT"
        else:
            privileges = "SELECT, INSERT, UPDATE, DELETE"
        statements.append(f"GRANT {privileges} ON TABLE {name} TO {who}")
    # nextval() for the id columns that use sequences; never setval (UPDATE).
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}")
    return statements


class Command(BaseCommand):
    help = "Grant the application's database role its privileges: SELECT and INSERT only on the audit ledger's tables."

    def add_arguments(self, parser):
        parser.add_argument("role", help="the PostgreSQL role the application connects as (it must own no table)")
        parser.add_argument("--print", action="store_true", dest="print_only", help="print the SQL instead of running it")

    def handle(self, *args, role, print_only, **options):
        if connection.vendor != "postgresql":
            raise CommandError("database roles are PostgreSQL's: DATABASE_URL names another database")
        with connection.cursor() as cursor:
            tables = connection.introspection.table_names(cursor)
            if not print_only:
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
                if cursor.fetchone() is None:
                    raise CommandError(f"no role {role!r}: create it first (deploy/db_roles.sql)")
                cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s", [role])
                owned = sorted(row[0] for row in cursor.fetchall())
                if owned:
                    raise CommandError(
                        f"{role!r} owns {', '.join(owned[:5])}{' …' if len(owned) > 5 else ''}: the application's role must own "
                        "no table (an owner bypasses grants and can disable the ledger's triggers); run migrate as the owner role"
                    )
        statements = app_role_grants(role, tables)
        if print_only:
            self.stdout.write(";\n".join(statements) + ";")
            return
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(f"{role}: {len(tables)} tables granted; SELECT and INSERT only on {', '.join(LEDGER_TABLES)}.")
