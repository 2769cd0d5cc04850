"""The old PHP client the compat tests replay (see conftest.py), and the facts of the old service
they check against (original_requests.json, original_templates.json)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from devstack import Stack

HERE = Path(__file__).parent
ORIGINAL_REQUESTS = json.loads((HERE / "original_requests.json").read_text(encoding="utf-8"))
ORIGINAL_TEMPLATES = json.loads((HERE / "original_templates.json").read_text(encoding="utf-8"))


@dataclass
class OldClient:
    """What an old PHP app does: plain HTTP calls to base_url + path, JSON in and out, with the
    key in X-API-Key (or none at all, from an allowed address)."""

    name: str
    stack: Stack
    key: str | None

    @property
    def base_url(self) -> str:
        return self.stack.config.base_url

    @property
    def http_base_url(self) -> str:
        """The old apps' http:// base URL: Nginx redirects it to HTTPS."""
        return f"http://{self.stack.config.host}:{self.stack.config.http_port}"

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.stack.config.cert)
        if self.key:
            session.headers["X-API-Key"] = self.key
        return session

    def request(self, method: str, path: str, over_http: bool = False, **kwargs: Any) -> requests.Response:
        """One call; a 429 (the shared stack's rate limit) is retried after its Retry-After."""
        url = (self.http_base_url if over_http else self.base_url) + path
        with self.session() as session:
            for _ in range(20):
                response = session.request(method, url, timeout=300, **kwargs)
                if response.status_code != 429:
                    return response
                time.sleep(float(response.headers.get("Retry-After", "1")))
        return response


def dev_key(stack: Stack) -> str:
    return (stack.config.var / "dev-api-key").read_text().strip()
