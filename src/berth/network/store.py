"""Networks and live endpoints in the daemon's SQLite database.

A network row holds its docker-shaped inspect document. An endpoint row is a
live attachment (a running container on a network) and owns its address: the
UNIQUE(network_id, ip) index makes a duplicate address impossible even if two
allocations raced, and rows survive a daemon crash, so a restarted daemon
rebuilds the allocations from here and reclaims those of dead containers.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from berth.store.metadata import Metadata, dumps

SCHEMA = """
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL            -- the inspect document without Containers
);
CREATE TABLE IF NOT EXISTS endpoints (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL,
    container_id TEXT NOT NULL,
    ip TEXT NOT NULL,            -- '' on networks without IPAM (host, none)
    doc TEXT NOT NULL,           -- mac, veth name, aliases, ports
    UNIQUE(network_id, container_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS endpoints_ip ON endpoints(network_id, ip) WHERE ip != '';
"""


@dataclass
class Endpoint:
    id: str
    network_id: str
    container_id: str
    ip: str
    doc: dict = field(default_factory=dict)


class NetworkStore:
    def __init__(self, md: Metadata) -> None:
        self.md = md
        with md.transaction() as db:
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    db.execute(stmt)

    # ------------------------------------------------------------ networks
    def networks(self) -> list[dict]:
        return [json.loads(r["doc"]) for r in self.md.query("SELECT doc FROM networks")]

    def put_network(self, doc: dict) -> None:
        self.md.execute("INSERT OR REPLACE INTO networks(id, name, doc) VALUES (?,?,?)",
                        (doc["Id"], doc["Name"], dumps(doc)))

    def delete_network(self, net_id: str) -> None:
        with self.md.transaction() as db:
            db.execute("DELETE FROM endpoints WHERE network_id=?", (net_id,))
            db.execute("DELETE FROM networks WHERE id=?", (net_id,))

    # ------------------------------------------------------------ endpoints
    def endpoints(self, network_id: str | None = None, container_id: str | None = None) -> list[Endpoint]:
        sql, args = "SELECT * FROM endpoints", []
        where = []
        if network_id is not None:
            where.append("network_id=?")
            args.append(network_id)
        if container_id is not None:
            where.append("container_id=?")
            args.append(container_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [Endpoint(r["id"], r["network_id"], r["container_id"], r["ip"], json.loads(r["doc"]))
                for r in self.md.query(sql, tuple(args))]

    def used_ips(self, network_id: str) -> set[str]:
        return {r["ip"] for r in self.md.query("SELECT ip FROM endpoints WHERE network_id=? AND ip != ''",
                                               (network_id,))}

    def add_endpoint(self, ep: Endpoint) -> bool:
        """False when the address (or this container's slot on the network) is taken."""
        try:
            self.md.execute("INSERT INTO endpoints(id, network_id, container_id, ip, doc) VALUES (?,?,?,?,?)",
                            (ep.id, ep.network_id, ep.container_id, ep.ip, dumps(ep.doc)))
        except sqlite3.IntegrityError:
            return False
        return True

    def update_endpoint(self, ep: Endpoint) -> None:
        self.md.execute("UPDATE endpoints SET doc=? WHERE id=?", (dumps(ep.doc), ep.id))

    def delete_endpoint(self, ep_id: str) -> None:
        self.md.execute("DELETE FROM endpoints WHERE id=?", (ep_id,))
