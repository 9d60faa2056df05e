"""Adapters to the AgentRun control plane. ``openapi`` speaks to it through the official SDK."""
