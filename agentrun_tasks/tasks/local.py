"""Tasks of the `local` namespace (being written)."""

from invoke import Collection

ns = Collection("local")
