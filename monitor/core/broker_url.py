"""Broker URLs: parts, credentials, and a form safe to print."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """A broker URL's parts. ``password`` never appears in ``repr`` or logs: print
    ``redact_url(url)`` instead of the URL."""

    host: str
    port: int
    tls: bool
    username: str = ""
    password: str = field(default="", repr=False)


def broker_url(url: str, key: str = "mqtt.broker") -> BrokerUrl:
    """``mqtt[s]://[user[:password]@]host[:port]`` -> its parts (user and password
    percent-decoded). Errors show the URL with the password as ``***``."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise ConfigError(key, redact_url(url), "mqtt://[USER:PASSWORD@]HOST[:PORT] or mqtts://...")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ConfigError(key, redact_url(url), "a port number 1..65535") from exc
    return BrokerUrl(
        parts.hostname,
        port,
        tls,
        unquote(parts.username or ""),
        unquote(parts.password or ""),
    )


def parse_broker(url: str, key: str = "mqtt.broker") -> tuple[str, int, bool]:
    """``mqtt://host:port`` or ``mqtts://host:port`` -> (host, port, tls)."""
    b = broker_url(url, key)
    return b.host, b.port, b.tls


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``: for logs and error messages."""
    scheme, sep, rest = url.rpartition("://")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{hostport}{slash}{path}"
