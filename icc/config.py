"""Configuration from the environment, with typed casts and clear errors.

| variable | meaning | default |
|---|---|---|
| ``ICC_DATA_DIR`` | directory holding all state (journal, dead letters, caches of derived state) | ``.icc`` |
| ``ICC_PROVINCE`` | adcode of the served province | ``330000`` |
| ``ICC_BATCH_SIZE`` | micro-batch size of the pipeline | ``1000`` |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ConfigError", "Settings"]


class ConfigError(ValueError):
    """An environment variable holds a value of the wrong shape."""


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected an integer between {lo} and {hi}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={value}: expected an integer between {lo} and {hi}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    province: int = 330000
    batch_size: int = 1000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("ICC_DATA_DIR") or ".icc")
        province = _int(env, "ICC_PROVINCE", 330000, 110000, 829999)
        if province % 10000:
            raise ConfigError(
                f"ICC_PROVINCE={province}: expected a province adcode ending in 0000 (e.g. 330000)"
            )
        return cls(
            data_dir=data_dir,
            province=province,
            batch_size=_int(env, "ICC_BATCH_SIZE", 1000, 1, 1_000_000),
        )

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.sqlite"

    @property
    def deadletter_path(self) -> Path:
        return self.data_dir / "deadletter.sqlite"
