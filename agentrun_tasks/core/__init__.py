"""Pure core of agentrun-tasks: no invoke, no subprocess, no network."""
