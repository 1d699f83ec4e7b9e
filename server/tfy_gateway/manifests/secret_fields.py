"""Which manifest fields hold secrets, and how a reference to a stored secret is written.

The linter warns about a literal value in one of these fields; the control plane redacts them from
what it shows. Its own module, so that redacting does not load the linter.
"""

from __future__ import annotations

SECRET_FIELDS = frozenset(
    {
        "api_key",
        "apiKey",
        "bearer_token",
        "password",
        "secret_access_key",
        "client_secret",
        "key_file_content",
        "certificate",
        "session_token",
        "private_key",
    }
)
SECRET_PREFIX = "tfy-secret://"
