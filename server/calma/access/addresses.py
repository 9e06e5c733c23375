"""What network a client address counts as, for limits kept per client (sign-in delays, sandbox write rates).

Owns `client_network`: an IPv4 address is itself; an IPv6 address counts per /64, since one host usually
holds a whole /64 and could otherwise take a fresh address for every try; an IPv4-mapped IPv6 address is
its IPv4 address. Anything that is not an IP address (a Unix socket path, say) is taken as it is.
"""

from __future__ import annotations

import ipaddress


def client_network(address: str | None) -> str:
    """The network `address` counts as; "unknown" when there is none."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        return str(mapped) if mapped is not None else str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
