"""Outbound webhooks: endpoints customers register, and the signed deliveries sent to them."""
