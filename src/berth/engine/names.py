"""Docker-style generated container names: adjective_surname.

The surnames honour scientists and engineers, as docker's do; the lists
are Berth's own.
"""

from __future__ import annotations

import random
import re

ADJECTIVES = (
    "agile", "amazing", "bold", "brave", "bright", "busy", "calm", "charming", "clever", "cool",
    "crisp", "curious", "daring", "dazzling", "eager", "elated", "elegant", "epic", "fervent",
    "fond", "friendly", "gallant", "gentle", "gifted", "glad", "graceful", "happy", "hardy",
    "honest", "humble", "jolly", "keen", "kind", "lively", "loyal", "lucid", "merry", "mellow",
    "modest", "nifty", "noble", "patient", "peaceful", "plucky", "polite", "proud", "quick",
    "quiet", "radiant", "relaxed", "serene", "sharp", "shiny", "sleepy", "smart", "snappy",
    "steady", "sturdy", "sunny", "swift", "tender", "tidy", "trusty", "upbeat", "vibrant",
    "vigilant", "warm", "witty", "zealous", "zen",
)

SURNAMES = (
    "agnesi", "archimedes", "babbage", "banach", "bardeen", "bohr", "boole", "brahmagupta",
    "cantor", "carson", "cauchy", "curie", "darwin", "dijkstra", "euclid", "euler", "faraday",
    "fermat", "fermi", "feynman", "franklin", "galileo", "gauss", "germain", "goldberg",
    "goodall", "hamilton", "hawking", "heisenberg", "hertz", "hodgkin", "hopper", "hypatia",
    "jackson", "johnson", "kepler", "knuth", "kowalevski", "lamarr", "leakey", "lovelace",
    "maxwell", "meitner", "mendel", "mirzakhani", "newton", "nobel", "noether", "pascal",
    "pasteur", "planck", "poincare", "ramanujan", "ritchie", "shannon", "somerville", "tesla",
    "thompson", "torvalds", "turing", "volta", "wilson", "wright", "yalow", "zuse",
)

# docker demands two characters at least (moby#1641 calls that a bug); Berth takes one too.
VALID_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def generate(taken: "set[str] | dict") -> str:
    """A free name; after a few collisions, a digit is appended as docker does."""
    for attempt in range(12):
        name = f"{random.choice(ADJECTIVES)}_{random.choice(SURNAMES)}"
        if attempt > 3:
            name += str(random.randint(0, 9))
        if "/" + name not in taken:
            return name
    return f"{random.choice(ADJECTIVES)}_{random.choice(SURNAMES)}{random.randint(10, 99999)}"
