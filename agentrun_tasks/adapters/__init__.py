"""Adapters: each talks to one outside thing (AgentRun, OSS, the keyring, an agent's HTTP
endpoint, pip, a CI platform's API, a chat webhook) behind a typed protocol of ``core.ports``.

May import ``core`` only; never ``flows``, ``tasks``, ``session`` or the emulator."""
