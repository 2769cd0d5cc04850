from __future__ import annotations

import json

import pytest

from ybb_api.keys import KeyRing, hash_key, main


def test_cli_prints_the_key_once_and_stores_only_its_hash(tmp_path, capsys) -> None:
    path = tmp_path / "keys.json"
    assert main(["create", "--tenant", "acme", "--file", str(path)]) == 0
    key = capsys.readouterr().out.strip()
    stored = json.loads(path.read_text())["keys"]
    assert key not in path.read_text()
    assert stored[0]["sha256"] == hash_key(key) and stored[0]["tenant"] == "acme"
    assert stored[0]["scopes"] == ["exports:write", "exports:read"]
    assert len(stored[0]["webhook_secret"]) == 64
    assert (path.stat().st_mode & 0o777) == 0o600
    found = KeyRing(str(path)).find(key)
    assert found is not None and found.tenant == "acme"
    assert KeyRing(str(path)).find(key + "x") is None


def test_cli_rejects_unknown_scope(tmp_path) -> None:
    with pytest.raises(SystemExit):
        main(["create", "--tenant", "acme", "--file", str(tmp_path / "k.json"), "--scopes", "root"])


def test_several_keys_per_tenant_for_rotation(tmp_path, capsys) -> None:
    path = tmp_path / "keys.json"
    main(["create", "--tenant", "acme", "--file", str(path)])
    main(["create", "--tenant", "acme", "--file", str(path)])
    old, new = capsys.readouterr().out.split()
    ring = KeyRing(str(path))
    assert ring.find(old).tenant == ring.find(new).tenant == "acme"
