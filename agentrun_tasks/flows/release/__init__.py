"""Progressive delivery for AgentRun: the candidate version, step analysis, the canary and
blue-green loops, and the records (lock, history, failed versions) they keep."""
