"""The operator CLI: `k8sops requests|sla|audit|login …` against the services' APIs."""
