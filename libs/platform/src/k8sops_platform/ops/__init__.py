"""The operator CLI: `k8sops login|requests|sla|audit|upgrades|cost …` against the services' APIs."""
