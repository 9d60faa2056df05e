"""A local AgentRun: the control plane (ROA/JSON), RAM and STS (RPC) and the data plane,
on one loopback port, close enough to the cloud that the official SDK clients cannot tell."""
