"""docker-compose.yml: the optional HAPI FHIR service and the FHIR settings it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_hapi_fhir_is_an_optional_r4_service() -> None:
    hapi = _compose()["services"]["hapi-fhir"]
    assert hapi["profiles"] == ["fhir"]  # not started without --profile fhir
    assert hapi["image"].startswith("hapiproject/hapi:")
    assert hapi["environment"]["hapi.fhir.fhir_version"] == "R4"
    assert all(port.startswith("127.0.0.1:") for port in hapi["ports"])


def test_radflag_services_pass_the_fhir_settings() -> None:
    services = _compose()["services"]
    for name in ("worker", "deliverer"):
        env = services[name]["environment"]
        names = {k for k in env if k.startswith("RADFLAG_FHIR_")}
        assert names >= {"RADFLAG_FHIR_URL", "RADFLAG_FHIR_TOKEN", "RADFLAG_FHIR_FLAG"}
        for key in names:
            assert Settings.__dataclass_fields__[key.removeprefix("RADFLAG_").lower()]
    # The documented value for the compose network is a URL the settings accept.
    assert Settings(fhir_url="http://hapi-fhir:8080/fhir").fhir_url
