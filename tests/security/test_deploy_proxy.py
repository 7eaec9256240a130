"""The Docker deployment believes X-Forwarded-For from its reverse proxy, and only from it.

In docker-compose.yml the proxy (Caddy or nginx on the host, docs/deploy.md) reaches
the app instances through their published ports, so inside the containers its
connections come from the compose network's gateway, not from 127.0.0.1. Unless that
address is trusted, every visitor looks like one client: 20 failed logins would stop
every staff login and 20 new web chats an hour would stop everyone's. Trusting more
than the proxy would let anyone choose their own address.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.config import PROJECT_HOME
from tests.support.serving import helpline_serve

COMPOSE = PROJECT_HOME / "docker-compose.yml"
LIMIT = 2  # new web chats per client address and hour, in the served instances


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def web_instances(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the image's own command, ``helpline serve``."""
    return {
        name: service
        for name, service in config["services"].items()
        if "build" in service and "command" not in service
    }


def test_compose_trusts_only_its_networks_gateway_as_the_proxy() -> None:
    config = compose()
    instances = web_instances(config)

    assert sorted(instances) == ["app1", "app2"]
    for name, service in instances.items():
        trusted = str(service["environment"].get("FORWARDED_ALLOW_IPS", ""))
        assert trusted, f"{name}: no trusted proxy, every client is the gateway"
        [network_name] = service.get("networks", ["default"])
        [ipam] = config["networks"][network_name]["ipam"]["config"]
        subnet = ipaddress.ip_network(ipam["subnet"])
        gateway = ipaddress.ip_address(ipam["gateway"])
        assert gateway in subnet
        # Only the proxy: the gateway, one address, not the subnet (the database and
        # the worker are on it) and never "*".
        assert [ipaddress.ip_address(entry.strip()) for entry in trusted.split(",")] == [gateway]
        # ...and only the host's proxy comes through the gateway: the ports are published
        # on the host's loopback alone.
        for port in service["ports"]:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond the host"


# --- `helpline serve` honours the setting ---------------------------------------------


def new_chat(client: httpx.Client, forwarded_for: str) -> int:
    """Start a new web chat (a new cookie) and say something; the status of that."""
    client.cookies.clear()
    headers = {"X-Forwarded-For": forwarded_for}
    assert client.get("/try", headers=headers).status_code == 200
    said = client.post(
        "/try/messages", json={"id": uuid.uuid4().hex, "text": "hallo"}, headers=headers
    )
    return said.status_code


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``helpline serve`` with this FORWARDED_ALLOW_IPS, a low new-chat limit per client."""
    with ExitStack() as stack:

        def serve(trusted: str) -> str:
            return stack.enter_context(
                helpline_serve(
                    tmp_path / f"helpline-{uuid.uuid4().hex[:8]}.db",
                    secret_key="deploy-proxy-test-secret",
                    forwarded_allow_ips=trusted,
                    HELPLINE_WEBCHAT_NEW_CONTACTS_PER_HOUR=str(LIMIT),
                )
            )

        yield serve


def test_helpline_serve_believes_forwarded_for_from_the_trusted_proxy_address(
    served: Callable[[str], str],
) -> None:
    # 127.0.0.2 plays the compose gateway: one trusted address, and not 127.0.0.1.
    url = served("127.0.0.2")
    proxy = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=url, transport=proxy) as through_the_proxy:
        statuses = [new_chat(through_the_proxy, f"203.0.113.{n}") for n in range(LIMIT + 2)]

    assert statuses == [202] * (LIMIT + 2)  # four visitors, each within their own limit


def test_helpline_serve_ignores_forwarded_for_from_any_other_peer(
    served: Callable[[str], str],
) -> None:
    trusted = web_instances(compose())["app1"]["environment"].get("FORWARDED_ALLOW_IPS")
    assert trusted, "docker-compose.yml trusts no proxy"
    url = served(str(trusted))  # as in docker-compose.yml; this client is not that proxy
    with httpx.Client(base_url=url) as direct:
        statuses = [new_chat(direct, f"203.0.113.{n}") for n in range(LIMIT + 2)]

    assert statuses == [202] * LIMIT + [429, 429]  # one client, whatever it claims
