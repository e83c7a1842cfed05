"""Partner webhooks out and SaaS webhooks in, on the Standard Webhooks specification."""
