"""Where psbridge keeps its files, each overridable by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "psbridge"


def config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP_NAME)


def data_dir() -> Path:
    """Job store, sandbox state, token cache: ``PSBRIDGE_DATA`` or the user data folder."""
    override = os.environ.get("PSBRIDGE_DATA")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def config_file() -> Path:
    """``PSBRIDGE_CONFIG``, else ``config.toml`` in the user config folder."""
    override = os.environ.get("PSBRIDGE_CONFIG")
    return Path(override) if override else config_dir() / "config.toml"


def user_templates_dir() -> Path:
    """``PSBRIDGE_TEMPLATES``, else ``templates/`` in the user config folder."""
    override = os.environ.get("PSBRIDGE_TEMPLATES")
    return Path(override) if override else config_dir() / "templates"
