"""Tasks of the `credentials` namespace (being written)."""

from invoke import Collection

ns = Collection("credentials")
