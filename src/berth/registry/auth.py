"""Who may do what: htpasswd (bcrypt) accounts, a per-repository ACL, bearer tokens.

Two modes, as distribution has them:
- htpasswd: every request carries Basic credentials; a missing or wrong one
  gets 401 with `WWW-Authenticate: Basic realm="..."`.
- token: the registry runs its own token endpoint (the path of the configured
  realm URL). Clients follow the 401 `Bearer realm=...,service=...,scope=...`
  challenge to it with Basic credentials and get a JWT naming the repositories
  and actions granted (the intersection of what was asked and what the ACL
  allows). Tokens are signed with HMAC-SHA256 (JWT `HS256`) under a secret kept
  in the registry root (mode 0600): issuer and verifier are the same process,
  so no key pair or certificate chain needs distributing; a restart keeps the
  secret, so tokens stay valid until they expire. With `auth.token.rootcertbundle`
  an external token service signs the tokens instead (RS*/ES*, see
  jwt_external.py) and the registry only verifies them.

Without an ACL an authenticated account may pull and push everywhere
(distribution's behaviour). With one, an account gets the union of the actions
of the entries matching it ("*" matches any authenticated account,
"anonymous" the unauthenticated client) and the repository (a glob).
An authenticated client lacking an action gets 403 DENIED; an anonymous one
gets 401 with the challenge (it may log in and try again).
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass

from .config import RegistryConfig
from .errors import RegistryError

ANONYMOUS = ""


@dataclass
class Access:
    """What a request needs: `actions` on repository `name` (or the catalog when name is "")."""

    kind: str      # "repository" | "registry"
    name: str
    actions: tuple[str, ...]

    def scope(self) -> str:
        return f"{self.kind}:{self.name}:{','.join(self.actions)}"


class Htpasswd:
    """bcrypt entries only (as distribution): other hash kinds are refused at load."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.users: dict[str, bytes] = {}
        self._ok: dict[tuple[str, bytes], float] = {}
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as exc:
            raise ValueError(f"cannot read htpasswd file {path}: {exc.strerror}") from None
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                raise ValueError(f"{path}:{n}: only bcrypt entries are supported (htpasswd -B)")
            self.users[user] = hashed.encode()

    def check(self, user: str, password: str) -> bool:
        """bcrypt costs ~50-100 ms: a success is remembered for a minute (keyed by a hash)."""
        hashed = self.users.get(user)
        if hashed is None:
            return False
        key = (user, hashlib.sha256(password.encode()).digest())
        now = time.monotonic()
        if self._ok.get(key, 0) > now:
            return True
        import bcrypt

        try:
            ok = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            ok = False
        if ok:
            self._ok[key] = now + 60
        return ok


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authorizer:
    def __init__(self, cfg: RegistryConfig, root: str) -> None:
        self.cfg = cfg
        self.mode = cfg.auth_mode
        self.htpasswd = Htpasswd(cfg.htpasswd_path) if cfg.htpasswd_path else None
        self.bundle: list = []
        if cfg.token_rootcertbundle:
            from .jwt_external import load_bundle

            self.bundle = load_bundle(cfg.token_rootcertbundle)
        self.secret = self._secret(root) if self.mode == "token" and not self.bundle else b""

    def _secret(self, root: str) -> bytes:
        path = self.cfg.token_secret_file or os.path.join(root, ".token-secret")
        try:
            with open(path, "rb") as f:
                data = f.read().strip()
            if len(data) >= 32:
                return data
        except FileNotFoundError:
            pass
        data = secrets.token_hex(32).encode()
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return data

    # ------------------------------------------------------------ ACL
    def allowed(self, account: str, access: Access) -> set[str]:
        """The subset of access.actions `account` (ANONYMOUS for none) may do."""
        wanted = set(access.actions)
        if access.kind == "registry":
            # the catalog: any authenticated account (an ACL entry on "*" for anonymous)
            if account != ANONYMOUS:
                return wanted
            return wanted if self._acl_actions(account, "*") else set()
        if not self.cfg.acl:
            return wanted if account != ANONYMOUS else set()
        return wanted & self._acl_actions(account, access.name)

    def _acl_actions(self, account: str, name: str) -> set[str]:
        got: set[str] = set()
        for e in self.cfg.acl:
            who = (e.account == account or (e.account == "*" and account != ANONYMOUS)
                   or (e.account == "anonymous" and account == ANONYMOUS))
            if who and fnmatch.fnmatchcase(name, e.name):
                got |= e.actions
        return got

    # ------------------------------------------------------------ credentials
    def basic_account(self, header: str | None) -> str | None:
        """The account of valid Basic credentials, ANONYMOUS when none were sent, None when wrong."""
        if not header:
            return ANONYMOUS
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep or self.htpasswd is None or not self.htpasswd.check(user, password):
            return None
        return user

    # ------------------------------------------------------------ tokens
    def issue(self, account: str, scopes: list[Access]) -> dict:
        now = int(time.time())
        access = []
        for a in scopes:
            granted = [act for act in a.actions if act in self.allowed(account, a)]
            if granted:
                access.append({"type": a.kind, "name": a.name, "actions": sorted(granted)})
        claims = {"iss": self.cfg.token_issuer, "sub": account, "aud": self.cfg.token_service,
                  "exp": now + int(self.cfg.token_expiration), "nbf": now - 1, "iat": now,
                  "jti": secrets.token_hex(12), "access": access}
        head = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(hmac.new(self.secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
        token = f"{head}.{body}.{sig}"
        return {"token": token, "access_token": token, "expires_in": int(self.cfg.token_expiration),
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}

    @property
    def issues_tokens(self) -> bool:
        """False when an external token service (a root certificate bundle) signs the tokens."""
        return self.mode == "token" and not self.bundle

    def verify(self, token: str) -> dict | None:
        if self.bundle:
            from .jwt_external import verify_signature

            return self._check_claims(verify_signature(token, self.bundle))
        try:
            head, body, sig = token.split(".")
            expected = hmac.new(self.secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_unb64(sig), expected):
                return None
            if json.loads(_unb64(head)).get("alg") != "HS256":
                return None
            claims = json.loads(_unb64(body))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        return self._check_claims(claims)

    def _check_claims(self, claims: dict | None) -> dict | None:
        if not isinstance(claims, dict):
            return None
        now = time.time()
        if claims.get("exp", 0) < now or claims.get("nbf", 0) > now + 60:
            return None
        aud = claims.get("aud")
        if claims.get("iss") != self.cfg.token_issuer or not (
                aud == self.cfg.token_service or (isinstance(aud, list) and self.cfg.token_service in aud)):
            return None
        return claims

    # ------------------------------------------------------------ requests
    def challenge(self, access: Access | None, error: str = "") -> dict[str, str]:
        if self.mode == "htpasswd":
            return {"WWW-Authenticate": f'Basic realm="{self.cfg.htpasswd_realm}"'}
        parts = [f'realm="{self.cfg.token_realm}"', f'service="{self.cfg.token_service}"']
        if access is not None:
            parts.append(f'scope="{access.scope()}"')
        if error:
            parts.append(f'error="{error}"')
        return {"WWW-Authenticate": "Bearer " + ",".join(parts)}

    def authorize(self, header: str | None, access: Access | None) -> str:
        """The account making the request, or raise 401/403. `access` None: only /v2/."""
        if self.mode == "none":
            return ANONYMOUS
        if self.mode == "htpasswd":
            account = self.basic_account(header)
            if account is None or account == ANONYMOUS:
                raise RegistryError("UNAUTHORIZED", headers=self.challenge(access))
            granted: set[str] = self.allowed(account, access) if access else set()
        else:
            scheme, _, value = (header or "").partition(" ")
            claims = self.verify(value.strip()) if scheme.lower() == "bearer" else None
            if claims is None:
                if access is not None and not header and self.allowed(ANONYMOUS, access) >= set(access.actions):
                    return ANONYMOUS
                raise RegistryError("UNAUTHORIZED", headers=self.challenge(access))
            account = claims.get("sub", ANONYMOUS)
            granted = set()
            if access is not None:
                for entry in claims.get("access") or []:
                    if entry.get("type") == access.kind and entry.get("name") == access.name:
                        granted |= set(entry.get("actions") or [])
        if access is None or granted >= set(access.actions):
            return account
        if account == ANONYMOUS:
            raise RegistryError("UNAUTHORIZED", headers=self.challenge(access, "insufficient_scope"))
        raise RegistryError("DENIED", {"account": account, "scope": access.scope()},
                            headers=self.challenge(access, "insufficient_scope") if self.mode == "token" else None)


def parse_scopes(values: list[str]) -> list[Access]:
    """`repository:team/app:pull,push` (several per parameter, space separated, as docker sends)."""
    out = []
    for value in values:
        for item in value.split():
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind in ("repository", "registry") and name:
                acts = tuple(a for a in actions.split(",") if a)
                if "*" in acts:
                    acts = ("pull", "push", "delete")
                out.append(Access(kind, name, acts))
    return out
