"""The resource groups of a client: `client.artifacts`, `client.workloads`, …"""
