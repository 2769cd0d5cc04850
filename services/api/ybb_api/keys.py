"""API keys: a JSON file of hashed keys, and a CLI to create them.

    python -m ybb_api.keys create --tenant acme [--scopes exports:write exports:read] [--file PATH]

prints the new key once; only its SHA-256 hash is stored. The running API re-reads the
file when it changes, so a new key works without a restart.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SCOPES = ("exports:write", "exports:read", "admin")


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant: str
    sha256: str
    scopes: tuple[str, ...]
    webhook_secret: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    """The keys in `path`, re-read whenever the file's mtime changes."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._stamp: float | None = None
        self._keys: tuple[ApiKey, ...] = ()
        self._lock = threading.Lock()

    def _load(self) -> tuple[ApiKey, ...]:
        if not self.path or not os.path.exists(self.path):
            return ()
        stamp = os.stat(self.path).st_mtime_ns
        with self._lock:
            if stamp != self._stamp:
                entries = json.loads(Path(self.path).read_text())["keys"]
                self._keys = tuple(
                    ApiKey(e["id"], e["tenant"], e["sha256"], tuple(e["scopes"]), e.get("webhook_secret", ""))
                    for e in entries
                )
                self._stamp = stamp
            return self._keys

    def find(self, presented: str) -> ApiKey | None:
        digest = hash_key(presented)
        match = None
        for key in self._load():  # compare against every key, in constant time each
            if hmac.compare_digest(key.sha256, digest):
                match = key
        return match


def create_key(
    path: Path, tenant: str, scopes: Sequence[str] = ("exports:write", "exports:read"), key_id: str | None = None
) -> str:
    """Add a key for `tenant` to the file at `path` and return the plaintext key."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    key_id = key_id or f"k_{secrets.token_hex(4)}"
    plaintext = f"ybb_{secrets.token_urlsafe(32)}"
    data = json.loads(path.read_text()) if path.exists() else {"keys": []}
    data["keys"].append(
        {
            "id": key_id,
            "tenant": tenant,
            "sha256": hash_key(plaintext),
            "scopes": list(scopes),
            "webhook_secret": secrets.token_hex(32),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return plaintext


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ybb_api.keys", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--scopes", nargs="+", default=["exports:write", "exports:read"], choices=SCOPES)
    create.add_argument("--file", default=os.environ.get("API_KEYS_FILE"), help="keys file (default: $API_KEYS_FILE)")
    args = parser.parse_args(argv)
    if not args.file:
        parser.error("no keys file: pass --file or set API_KEYS_FILE")
    print(create_key(Path(args.file), args.tenant, args.scopes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
