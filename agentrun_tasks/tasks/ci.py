"""Tasks of the `ci` namespace (being written)."""

from invoke import Collection

ns = Collection("ci")
