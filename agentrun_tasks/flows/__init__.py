"""Flows: build, deploy, release, rotation, notification. They orchestrate adapters through
core decisions, receive what the session opened, and never ask where they run.

May import ``core`` and ``adapters``; never ``tasks``, ``session`` or the emulator."""
