"""The Dagster-free warehouse client: transactions commit or roll back whole, tables are found, and the
Dagster resource only wraps the client."""

from __future__ import annotations

import pytest

from rexai_assets.evaluation import promotion
from rexai_assets.resources import Warehouse, build_resources
from rexai_assets.warehouse import WarehouseClient, table_exists, transaction


@pytest.fixture
def client(tmp_path) -> WarehouseClient:
    client = WarehouseClient(tmp_path / "warehouse" / "test.duckdb")
    with client.connect() as con:
        con.execute("CREATE SCHEMA s")
        con.execute("CREATE TABLE s.t (id INTEGER PRIMARY KEY)")
    return client


def rows(client: WarehouseClient) -> list[int]:
    with client.connect(read_only=True) as con:
        return [r[0] for r in con.execute("SELECT id FROM s.t ORDER BY id").fetchall()]


def test_transaction_commits_when_the_block_ends(client):
    with client.transaction() as con:
        con.execute("INSERT INTO s.t VALUES (1), (2)")
    assert rows(client) == [1, 2]


@pytest.mark.parametrize("error", [ValueError("bad row"), KeyboardInterrupt()])
def test_transaction_rolls_back_on_any_error_and_reraises(client, error):
    with client.connect() as con:
        with pytest.raises(type(error)):
            with transaction(con):
                con.execute("INSERT INTO s.t VALUES (1)")
                raise error
        # The same connection is out of the failed transaction: a new one starts and commits.
        with transaction(con):
            con.execute("INSERT INTO s.t VALUES (7)")
    assert rows(client) == [7]


def test_a_failing_statement_rolls_back_the_whole_transaction(client):
    with pytest.raises(Exception, match="(?i)duplicate|constraint"):
        with client.transaction() as con:
            con.execute("INSERT INTO s.t VALUES (1)")
            con.execute("INSERT INTO s.t VALUES (1)")
    assert rows(client) == []


def test_table_exists(client):
    assert client.table_exists("s", "t")
    assert not client.table_exists("s", "missing") and not client.table_exists("other", "t")
    with client.connect() as con:
        assert table_exists(con, "s", "t")


def test_the_resource_is_a_thin_wrapper_returning_the_client(tmp_path):
    resource = Warehouse(database=str(tmp_path / "w.duckdb"), lock_timeout_s=5.0)
    assert resource.client() == WarehouseClient(tmp_path / "w.duckdb", 5.0)
    with resource.connect() as con:
        assert con.execute("SELECT 42").fetchone()[0] == 42
    assert isinstance(build_resources()["warehouse"].client(), WarehouseClient)


def test_a_decline_whose_audit_row_fails_leaves_the_proposal_pending(monkeypatch):
    desk = promotion.desk_from_resources(build_resources())
    proposal = promotion.Proposal(
        proposal_id=promotion.new_proposal_id("1"), created_at=promotion.now_utc(), recommendation="REVIEW",
        confidence=0.9, status="", challenger_version="1", champion_version=None, baseline="heuristic",
        improvement=0.05, criteria=[], deltas={}, lineage={})
    monkeypatch.setattr(promotion.ChampionRegistry, "champion", lambda self: None)
    desk.record(proposal, mode="manual")

    def failing_audit(con, *args):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(promotion, "append_audit", failing_audit)
    with pytest.raises(RuntimeError, match="audit log unavailable"):
        desk.decide(proposal.proposal_id, "ana", approve=False)
    with desk.connect() as con:
        assert promotion.fetch_proposals(con, proposal.proposal_id)[0].status == promotion.PENDING
