"""Which AccessKey an environment uses and where it came from (:mod:`.lookup`), the names it is
looked for under (:mod:`.names`), and writing one into a ``.env`` file (:mod:`.dotenv_file`).
Pure: it reads the mappings and files it is given, never ``os.environ``."""

from .dotenv_file import write_dotenv
from .lookup import Attempt, Credentials, KeySource, MissingCredentials, resolve
from .names import (
    FIELD_FAMILY,
    FIELDS,
    GENERIC_FAMILY,
    KEYRING_SERVICE,
    STANDARD_FAMILY,
    Family,
    env_suffix,
    join_pair,
    name_families,
    pair_var,
    split_pair,
)

__all__ = ["FIELDS", "FIELD_FAMILY", "GENERIC_FAMILY", "KEYRING_SERVICE", "STANDARD_FAMILY", "Attempt", "Credentials",
           "Family", "KeySource", "MissingCredentials", "env_suffix", "join_pair", "name_families", "pair_var",
           "resolve", "split_pair", "write_dotenv"]
