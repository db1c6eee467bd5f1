"""The runner: drives operations from their persisted state against the cluster's APIs."""
