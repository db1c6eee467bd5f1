-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d), as the
-- superuser. Each service gets a login role that owns only its own schema, the same layout
-- k8sops_platform.provision creates for the embedded default. Each role's password comes from the
-- container's environment (K8SOPS_DB_PASSWORD_<ROLE>, see deploy/README.md); an unset one stops the init.
CREATE DATABASE k8sops;
\connect k8sops

-- Nobody gets the public schema; every service works only in its own.
REVOKE ALL ON SCHEMA public FROM PUBLIC;

\getenv intake_password K8SOPS_DB_PASSWORD_INTAKE
CREATE ROLE intake LOGIN PASSWORD :'intake_password';
CREATE SCHEMA intake AUTHORIZATION intake;
ALTER ROLE intake SET search_path = intake;
REVOKE ALL ON SCHEMA intake FROM PUBLIC;

\getenv sla_timer_password K8SOPS_DB_PASSWORD_SLA_TIMER
CREATE ROLE sla_timer LOGIN PASSWORD :'sla_timer_password';
CREATE SCHEMA sla_timer AUTHORIZATION sla_timer;
ALTER ROLE sla_timer SET search_path = sla_timer;
REVOKE ALL ON SCHEMA sla_timer FROM PUBLIC;

\getenv upgrade_runner_password K8SOPS_DB_PASSWORD_UPGRADE_RUNNER
CREATE ROLE upgrade_runner LOGIN PASSWORD :'upgrade_runner_password';
CREATE SCHEMA upgrade_runner AUTHORIZATION upgrade_runner;
ALTER ROLE upgrade_runner SET search_path = upgrade_runner;
REVOKE ALL ON SCHEMA upgrade_runner FROM PUBLIC;

\getenv cost_analyzer_password K8SOPS_DB_PASSWORD_COST_ANALYZER
CREATE ROLE cost_analyzer LOGIN PASSWORD :'cost_analyzer_password';
CREATE SCHEMA cost_analyzer AUTHORIZATION cost_analyzer;
ALTER ROLE cost_analyzer SET search_path = cost_analyzer;
REVOKE ALL ON SCHEMA cost_analyzer FROM PUBLIC;

\getenv audit_password K8SOPS_DB_PASSWORD_AUDIT
CREATE ROLE audit LOGIN PASSWORD :'audit_password';
CREATE SCHEMA audit AUTHORIZATION audit;
ALTER ROLE audit SET search_path = audit;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
-- The audit service itself runs as audit_writer: it may read and append, never change (SPEC 8);
-- audit's migration 0003 lets it keep its outbox and inbox (mark sent, prune), nothing else.
\getenv audit_writer_password K8SOPS_DB_PASSWORD_AUDIT_WRITER
CREATE ROLE audit_writer LOGIN PASSWORD :'audit_writer_password';
ALTER ROLE audit_writer SET search_path = audit;
GRANT USAGE ON SCHEMA audit TO audit_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE audit IN SCHEMA audit GRANT SELECT, INSERT ON TABLES TO audit_writer;
