"""SSRF guard: decide whether a URL may be fetched from the live web.

An agent reads URLs out of pages and search results, so a hostile page can point it at the
machine's own services (``http://127.0.0.1:8080/admin``), the local network, or a cloud metadata
endpoint (``http://169.254.169.254/``). Before every request, and again on every redirect hop, the
fetcher calls :func:`check_url`, which refuses

* schemes other than ``http``/``https`` and URLs carrying credentials (``http://user:pw@host/``);
* hosts that are, or resolve to, loopback, private (RFC 1918, ULA ``fc00::/7``), shared/CGNAT
  (``100.64.0.0/10``), link-local (``169.254.0.0/16``, ``fe80::/10``), multicast, unspecified,
  reserved or otherwise non-global addresses, including IPv4 addresses embedded in IPv6 ones
  (``::ffff:127.0.0.1``, 6to4, NAT64, Teredo);
* numeric host spellings that ``inet_aton`` accepts and browsers still honour: ``2130706433``,
  ``0x7f.1``, ``0177.0.0.1``, ``127.1``.

Host names are resolved (``loop.getaddrinfo``) and *every* returned address must be public. Hosts
in the allow-list skip the address checks; that is how the local web's own server and test servers
on loopback are reached. The fetcher also connects only to addresses vetted in the same lookup
(:func:`vetted_addresses`, used by its connection backend), so a DNS server that answers with a
public address for the check and a private one for the connection (DNS rebinding) gets nowhere.
Through an outgoing proxy the proxy resolves names; guard the proxy's egress there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class URLRefused(ValueError):
    """The guard refused the URL; the message says why, in words a model can act on."""


class DNSLookupError(OSError):
    """The host name did not resolve."""


def parse_ip(host: str) -> IPAddress | None:
    """The IP address a host string stands for, or None for a real host name.

    Accepts the usual forms plus the legacy ``inet_aton`` spellings (decimal, octal, hex, and
    dotted forms with fewer than four parts) because browsers and many HTTP stacks resolve them.
    """
    host = host.strip().rstrip(".").strip("[]")
    if not host:
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.split(".")
    if len(parts) > 4:
        return None
    values = []
    for part in parts:
        value = _parse_int(part)
        if value is None:
            return None
        values.append(value)
    # inet_aton: the last part fills all the remaining bytes.
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(number)


def _parse_int(part: str) -> int | None:
    p = part.lower()
    try:
        if p.startswith("0x"):
            return int(p[2:] or "0", 16)
        if len(p) > 1 and p.startswith("0"):
            return int(p[1:], 8)
        return int(p, 10) if p.isdigit() else None
    except ValueError:
        return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden inside an IPv6 one (mapped, 6to4, Teredo, NAT64, compatible)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible form ::a.b.c.d
        return ipaddress.IPv4Address(int(ip))
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched (e.g. ``'a loopback address'``), or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            problem = address_problem(inner)
            return f"{problem} (embedded in an IPv6 address)" if problem else None
    checks = [
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address (this includes cloud metadata endpoints)"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "a shared (CGNAT) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private-network address"),
        (not ip.is_global, "a non-public address"),
    ]
    for failed, reason in checks:
        if failed:
            return reason
    return None


def _allowed(host: str, ip: IPAddress | None, allow_hosts: Iterable[str]) -> bool:
    """Host entries (names, IP literals) match the host as written in the URL; network entries
    (CIDR, e.g. ``10.0.0.0/8``) match any address, written or resolved. So allow-listing
    ``127.0.0.1`` does not also let in every name that resolves to it."""
    literal = parse_ip(host) is not None
    for entry in allow_hosts:
        entry = entry.strip().lower()
        if not entry:
            continue
        if "/" in entry and ip is not None:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
        elif entry == host or (literal and ip is not None and parse_ip(entry) == ip):
            return True
    return False


def check_url_static(url: str, allow_hosts: Iterable[str] = ()) -> tuple[str, int, bool]:
    """The checks that need no DNS. Returns ``(host, port, allowed)``; raises ``URLRefused``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise URLRefused(f"'{url}' is not a valid URL ({e})") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"'{scheme}:'" if scheme else "no scheme"
        raise URLRefused(f"'{url}' has {shown}; only http and https URLs can be fetched")
    if parts.username is not None or parts.password is not None:
        raise URLRefused(f"'{url}' carries credentials (user:password@host), which are not allowed")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise URLRefused(f"'{url}' has no host")
    port = port or (443 if scheme == "https" else 80)
    ip = parse_ip(host)
    allowed = _allowed(host, ip, allow_hosts)
    if ip is not None and not allowed:
        problem = address_problem(ip)
        if problem:
            raise URLRefused(f"'{url}' points to {problem} ({ip}); such addresses cannot be fetched")
    return host, port, allowed


async def check_url(url: str, allow_hosts: Iterable[str] = (), *, resolve: bool = True) -> None:
    """Raise ``URLRefused`` unless ``url`` is safe to fetch from the live web.

    With ``resolve`` (the default), a host name is looked up and every address it resolves to
    must be public; a name that does not resolve raises ``DNSLookupError``.
    """
    allow_hosts = tuple(allow_hosts)
    host, port, allowed = check_url_static(url, allow_hosts)
    if allowed or not resolve or parse_ip(host) is not None:
        return
    await vetted_addresses(host, port, allow_hosts, url=url)


async def vetted_addresses(host: str, port: int, allow_hosts: Iterable[str] = (), *, url: str | None = None) -> list[str]:
    """Resolve ``host`` once and return its addresses if every one is allowed or public (else raise
    ``URLRefused``; ``DNSLookupError`` when it does not resolve). Connecting to exactly these
    addresses leaves no second lookup for a rebinding DNS server to answer differently."""
    allow_hosts, what = tuple(allow_hosts), url or host
    ip = parse_ip(host)
    if ip is not None:
        if not _allowed(host, ip, allow_hosts) and (problem := address_problem(ip)):
            raise URLRefused(f"'{what}' points to {problem} ({ip}); such addresses cannot be fetched")
        return [str(ip)]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise DNSLookupError(f"DNS lookup failed for '{host}' ({e})") from None
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if not _allowed(host, ip, allow_hosts) and (problem := address_problem(ip)):
            raise URLRefused(f"'{what}' resolves to {problem} ({ip}); such addresses cannot be fetched")
        addresses.append(str(ip))
    return list(dict.fromkeys(addresses))
