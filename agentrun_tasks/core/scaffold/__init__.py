"""What ``agentrun-tasks init`` writes: a project's ``tasks.py``, ``envs/``, ``.env.example``,
``.gitignore`` entries and, when there is no code, an example agent (:mod:`.files`), from its
Serverless Devs files if it has some (:mod:`.sources`); the fixed texts are :mod:`.templates`.
Pure: it returns the files."""

from .files import GITIGNORE, compatible, plan
from .sources import Source, source

__all__ = ["GITIGNORE", "Source", "compatible", "plan", "source"]
