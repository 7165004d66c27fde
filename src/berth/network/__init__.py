"""Networking: IPAM, the bridge driver (netlink), NAT and published ports (nftables and a
userland proxy), per-container /etc files, the embedded DNS's name resolver."""
