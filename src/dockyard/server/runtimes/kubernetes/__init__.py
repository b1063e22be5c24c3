"""The `kubernetes` runtime: protons as Deployments, Services, Secrets and Jobs on a cluster."""
