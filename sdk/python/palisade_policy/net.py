"""CIDR helpers for network rules."""

import ipaddress

__all__ = ["is_world_cidr", "cidr_contains"]


def is_world_cidr(cidr):
    """Whether ``cidr`` is the whole IPv4 or IPv6 internet (``0.0.0.0/0`` or ``::/0``, in any
    spelling ``ipaddress`` normalises to those). Anything unparsable is not."""
    if not isinstance(cidr, str):
        return False
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False
    return network.prefixlen == 0


def _network(value, what):
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return ipaddress.ip_network(value)
    if not isinstance(value, str):
        raise ValueError(f"{what} {value!r} is not a CIDR")
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a CIDR or IP address") from None


def cidr_contains(outer, inner):
    """Whether every address of ``inner`` (a CIDR or a single address) is in ``outer`` (a CIDR).
    Networks of different IP versions never contain each other. Raises ``ValueError`` on text
    that is not a CIDR or address."""
    outer_net = _network(outer, "outer")
    inner_net = _network(inner, "inner")
    if outer_net.version != inner_net.version:
        return False
    return inner_net.subnet_of(outer_net)
