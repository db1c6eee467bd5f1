from k8sops_common.migrations import run_alembic_env

run_alembic_env()
