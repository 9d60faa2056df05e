"""Test helpers shipped with the library, for this project's tests and for its users'."""

__all__: list[str] = []
