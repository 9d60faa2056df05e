"""Where are we running, and which environment does that mean? Pure: no subprocess, no network.

:func:`detect` reads the CI platform's variables, or the checkout, into a :class:`CIContext`
(:mod:`.platforms`, :mod:`.context`); :func:`choose_env` turns that into an environment name
with a human reason (:mod:`.branch_map`); :func:`slug` makes a branch name safe for preview
runtime names.
"""

from .branch_map import DEFAULT_BRANCH_MAP, PR_ENV, PROD, PROD_NAMES, choose_env
from .context import TAG_PREFIX, CIContext, slug, who
from .platforms import detect

__all__ = ["DEFAULT_BRANCH_MAP", "PROD", "PROD_NAMES", "PR_ENV", "TAG_PREFIX", "CIContext", "choose_env", "detect",
           "slug", "who"]
