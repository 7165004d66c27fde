"""docker's embedded DNS (127.0.0.11 on user-defined networks).

    from berth.network.dns import EmbeddedDNS, NameResolver, host_nameservers
"""

from .answer import TTL, NameResolver
from .forward import host_nameservers
from .server import DNS_ADDRESS, EmbeddedDNS

__all__ = ["DNS_ADDRESS", "TTL", "EmbeddedDNS", "NameResolver", "host_nameservers"]
