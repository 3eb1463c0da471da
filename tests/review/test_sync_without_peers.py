"""`zkreg sync` without a URL syncs with the added peers; with none added it is a usage error, not a no-op."""

from __future__ import annotations

from typing import Any


def test_sync_with_no_url_and_no_added_peers_is_a_usage_error(cli: Any) -> None:
    assert cli("init").code == 0

    result = cli("sync", "--json")

    assert result.code == 2
    assert result.json()["error"]["code"] == "usage"
    assert "no peers added" in result.stderr
