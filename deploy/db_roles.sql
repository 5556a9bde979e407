-- The database roles of a production deployment (README, "Running in production").
-- Run once, as a PostgreSQL superuser:  psql -v owner_password=… -v app_password=… -f deploy/db_roles.sql
--
-- claims_owner owns the database, the schema and every table: `migrate` runs as it, and only it.
-- claims_app is what gunicorn and Celery connect as: it owns nothing, so it cannot drop or
-- alter a table, disable the ledger's append-only triggers or truncate the ledger, and after
-- `manage.py grant_app_role claims_app` (run as claims_owner after every migrate) it may only
-- SELECT and INSERT on the ledger's tables (audit_auditevent, audit_checkpoint, audit_subtreehash).

CREATE ROLE claims_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE claims_app LOGIN PASSWORD :'app_password';
CREATE DATABASE claims OWNER claims_owner;

\connect claims
ALTER SCHEMA public OWNER TO claims_owner;
-- Nobody else creates objects in the schema (PostgreSQL 15 and later already revoke CREATE from PUBLIC).
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO claims_app;

-- Then, as claims_owner, at every deployment:
--   DATABASE_URL=postgres://claims_owner:…@db/claims python manage.py migrate
--   DATABASE_URL=postgres://claims_owner:…@db/claims python manage.py grant_app_role claims_app
-- and run the processes with DATABASE_URL=postgres://claims_app:…@db/claims.
-- `manage.py grant_app_role claims_app --print` shows the GRANT and REVOKE statements it runs:
--   on every table SELECT, INSERT, UPDATE, DELETE, except
--   GRANT SELECT, INSERT ON TABLE audit_auditevent, audit_checkpoint, audit_subtreehash TO claims_app;
--   GRANT SELECT ON TABLE django_migrations TO claims_app;
--   GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO claims_app;
