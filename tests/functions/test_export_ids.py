"""The export id rule, for every possible cluster identifier (property tests) and the documented examples."""

from __future__ import annotations

import datetime as dt
import string

import pytest
from export_ids import AWS_ID_RULE, MAX_LENGTH, PREFIX, make_export_id, parse_export_id, parse_for_cluster
from hypothesis import given
from hypothesis import strategies as st

dates = st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(9999, 12, 31))
attempts = st.integers(min_value=1, max_value=99)
# Valid RDS cluster identifiers: 1-63 letters, digits, hyphens; letter first; no trailing or double hyphen.
cluster_ids = st.from_regex(r"\A[a-z](?:-?[a-z0-9]){0,62}\Z", fullmatch=True).filter(lambda s: len(s) <= 63)


@given(cluster=st.text(), day=dates, attempt=attempts)
def test_every_cluster_string_gives_a_valid_recognisable_id(cluster: str, day: dt.date, attempt: int) -> None:
    identifier = make_export_id(cluster, day, attempt)
    assert AWS_ID_RULE.match(identifier), identifier
    assert "--" not in identifier
    assert not identifier.endswith("-")
    assert len(identifier) <= MAX_LENGTH
    assert identifier.startswith(PREFIX)
    assert identifier == make_export_id(cluster, day, attempt)  # deterministic
    parsed = parse_for_cluster(identifier, cluster)
    assert parsed is not None
    assert (parsed.ingestion_date, parsed.attempt) == (day, attempt)


@given(cluster=st.text(), day=dates, other_day=dates, attempt=attempts, other_attempt=attempts)
def test_different_days_or_attempts_never_share_an_id(
    cluster: str, day: dt.date, other_day: dt.date, attempt: int, other_attempt: int
) -> None:
    same = (day, attempt) == (other_day, other_attempt)
    assert (make_export_id(cluster, day, attempt) == make_export_id(cluster, other_day, other_attempt)) == same


@given(a=cluster_ids, b=cluster_ids, day=dates)
def test_different_clusters_never_share_an_id(a: str, b: str, day: dt.date) -> None:
    assert (make_export_id(a, day) == make_export_id(b, day)) == (a == b)
    if a != b:
        assert parse_for_cluster(make_export_id(a, day), b) is None


@given(cluster=st.text(alphabet=string.ascii_letters + string.digits + "-_. ", min_size=1), day=dates)
def test_ids_of_other_clusters_are_not_ours(cluster: str, day: dt.date) -> None:
    other = cluster + "x"
    if make_export_id(other, day) != make_export_id(cluster, day):
        assert parse_for_cluster(make_export_id(other, day), cluster) is None


def test_readable_for_ordinary_cluster_names() -> None:
    day = dt.date(2026, 11, 26)
    assert make_export_id("mycluster", day) == "aurora-sor-mycluster-2026-11-26"  # docs/contracts.md example
    assert make_export_id("MyCluster", day) == "aurora-sor-mycluster-2026-11-26"  # RDS ids are case-insensitive
    assert make_export_id("mycluster", day, 2) == "aurora-sor-mycluster-2026-11-26-r2"


def test_long_or_odd_names_are_shortened_with_a_hash() -> None:
    day = dt.date(2026, 11, 26)
    long_name = "a" * 63
    identifier = make_export_id(long_name, day)
    assert len(identifier) <= MAX_LENGTH
    assert identifier != make_export_id("a" * 62, day)
    odd = make_export_id("prod_cluster.v2", day)
    assert odd.startswith("aurora-sor-prod-cluster-v2-")
    assert odd.endswith("-2026-11-26")
    assert make_export_id("日本", day).startswith(PREFIX)


def test_a_cluster_name_that_looks_like_a_date_still_parses() -> None:
    day = dt.date(2026, 11, 26)
    parsed = parse_for_cluster(make_export_id("x-2025-01-01", day, 3), "x-2025-01-01")
    assert parsed is not None
    assert (parsed.ingestion_date, parsed.attempt) == (day, 3)


@pytest.mark.parametrize(
    "identifier",
    [
        "my-manual-export",
        "aurora-sor-2026-11-26",  # no cluster part
        "aurora-sor-mycluster-2026-13-01",  # not a date
        "aurora-sor-mycluster-2026-11-26-r1",  # attempt 1 never has a suffix
        "aurora-sor-mycluster-2026-11-26-r100",
        "aurora-sor-MyCluster-2026-11-26",
        "xaurora-sor-mycluster-2026-11-26",
    ],
)
def test_foreign_or_malformed_ids_are_not_ours(identifier: str) -> None:
    assert parse_export_id(identifier) is None or parse_for_cluster(identifier, "mycluster") is None
    assert parse_for_cluster(identifier, "mycluster") is None


@pytest.mark.parametrize("attempt", [0, 100, -1, True])
def test_attempt_out_of_range_is_an_error(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt"):
        make_export_id("mycluster", dt.date(2026, 11, 26), attempt)
