"""``--smoke``: each benchmark's quick run (seconds to a minute, smallest counts, no figures) that
asserts its requests still succeed. ``.ci/run`` runs every one, so no benchmark rots unseen."""

from __future__ import annotations

import argparse
import sys

HELP = "a quick run with the smallest counts that only checks the benchmark still works; prints no figures"


def add_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke", action="store_true", help=HELP)


def passed(what: str) -> None:
    print(f"smoke ok: {sys.argv[0].rsplit('/', 1)[-1]}: {what}")
