"""Where the stack keeps its files: everything under one ignored folder, `.local/`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mpa_cli.stack.console import StackError
from mpa_common.paths import HOME_VARIABLE, checkout_of


def find_project_root(start: Path | None = None) -> Path:
    """The checkout that holds `deploy/local/kafka/pom.xml`: MPA_HOME (or MPA_ROOT) when set,
    else the checkout these packages are installed from, else one around `start` (the cwd).
    The same home the services read their development keys from."""
    for variable in (HOME_VARIABLE, "MPA_ROOT"):
        if env_root := os.environ.get(variable):
            return Path(env_root).resolve()
    if start is None and (installed := checkout_of(Path(__file__))) is not None:
        return installed
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "deploy" / "local" / "kafka" / "pom.xml").is_file():
            return candidate
    raise StackError(
        f"Not inside an MPA checkout (no deploy/local/kafka/pom.xml above {here}); "
        "run from the repository or set MPA_ROOT."
    )


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def discover(cls) -> Layout:
        return cls(find_project_root())

    @property
    def local(self) -> Path:
        return Path(os.environ.get("MPA_LOCAL_DIR", self.root / ".local"))

    @property
    def deploy(self) -> Path:
        return self.root / "deploy" / "local"

    # Kafka
    @property
    def kafka_pom(self) -> Path:
        return self.deploy / "kafka" / "pom.xml"

    @property
    def kafka_properties_template(self) -> Path:
        return self.deploy / "kafka" / "server.properties.template"

    @property
    def kafka_log4j(self) -> Path:
        return self.deploy / "kafka" / "log4j2.properties"

    @property
    def kafka_home(self) -> Path:
        return self.local / "kafka"

    @property
    def kafka_libs(self) -> Path:
        return self.kafka_home / "libs"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_home / "data"

    # PostgreSQL
    @property
    def postgres_home(self) -> Path:
        return self.local / "postgres"

    @property
    def procfile(self) -> Path:
        return self.deploy / "Procfile"
