import json
from urllib.parse import parse_qs, urlparse

import pytest

from ppi.data.uniprot_rest import FetchError, UniProtClient


def page(entries):
    return json.dumps({"results": entries})


def client(server, tmp_path, waits, **kw):
    clock = [0.0]

    def sleep(s):
        waits.append(s)
        clock[0] += s

    opts = dict(timeout=0.3, retries=4, backoff=0.01, rate=0, sleep=sleep, clock=lambda: clock[0])
    opts.update(kw)
    return UniProtClient(tmp_path / "cache", base_url=server.base, **opts)


def query_of(path):
    return parse_qs(urlparse(path).query)


def test_retries_429_503_timeout_then_follows_the_cursor(uniprot_server, tmp_path, make_entry):
    nxt = {"Link": '<{base}/uniprotkb/search?cursor=abc&size=2>; rel="next"'}
    uniprot_server.replies = [
        (429, {"Retry-After": "3"}, "slow down", 0),
        (503, {}, "unavailable", 0),
        (200, {}, page([]), 1.0),  # answered after the client's timeout
        (200, nxt, page([make_entry("P40534"), make_entry("P40454", secondary=["Q00001"])]), 0),
        (200, {}, page([make_entry("P12345")]), 0),
    ]
    waits = []
    result = client(uniprot_server, tmp_path, waits).fetch(["P40534", "Q00001", "P12345", "P99999"])
    assert result.status == {
        "P40534": "found",
        "Q00001": "merged",
        "P12345": "found",
        "P99999": "unknown",
    }
    assert result.merged_into == {"Q00001": "P40454"}
    assert set(result.entries) == {"P40534", "P40454", "P12345"}
    assert waits == [3.0, 0.02, 0.04]  # Retry-After honoured, then exponential backoff
    paths = [p for p, _ in uniprot_server.requests]
    assert len(paths) == 5 and "cursor=abc" in paths[-1]
    q = query_of(paths[0])
    assert q["query"] == [
        "accession:P40534 OR accession:Q00001 OR accession:P12345 OR accession:P99999"
    ]
    assert "go" in q["fields"][0].split(",") and q["format"] == ["json"]
    assert uniprot_server.requests[0][1]["User-Agent"].startswith("ppi/")


def test_a_rerun_asks_only_for_what_is_missing(uniprot_server, tmp_path, make_entry):
    uniprot_server.replies = [(200, {}, page([make_entry("P40534")]), 0)]
    waits = []
    first = client(uniprot_server, tmp_path, waits).fetch(["P40534"])
    assert first.requests == 1
    again = client(uniprot_server, tmp_path, waits).fetch(["P40534"])
    assert again.requests == 0 and again.status == {"P40534": "found"}
    uniprot_server.replies = [(200, {}, page([make_entry("P40454")]), 0)]
    more = client(uniprot_server, tmp_path, waits).fetch(["P40534", "P40454"])
    assert more.requests == 1 and set(more.entries) == {"P40534", "P40454"}
    assert query_of(uniprot_server.requests[-1][0])["query"] == ["accession:P40454"]


def test_an_interrupted_pagination_resumes_from_the_cached_page(
    uniprot_server, tmp_path, make_entry
):
    nxt = {"Link": '<{base}/uniprotkb/search?cursor=def>; rel="next"'}
    uniprot_server.replies = [
        (200, nxt, page([make_entry("P40534")]), 0),
        (503, {}, "down", 0),
        (503, {}, "down", 0),
    ]
    waits = []
    with pytest.raises(
        FetchError, match=r"got HTTP 503 after 2 attempts; run again later to resume"
    ):
        client(uniprot_server, tmp_path, waits, retries=1).fetch(["P40534", "P40454"])
    uniprot_server.replies = [(200, {}, page([make_entry("P40454")]), 0)]
    result = client(uniprot_server, tmp_path, waits).fetch(["P40534", "P40454"])
    assert set(result.entries) == {"P40534", "P40454"}
    assert "cursor=def" in uniprot_server.requests[-1][0]  # page 1 came from the cache
    assert len(uniprot_server.requests) == 4


def test_a_malformed_body_fails_clearly_and_caches_nothing(uniprot_server, tmp_path):
    uniprot_server.replies = [(200, {}, '{"results": [ {"primaryAcc', 0)] * 3
    with pytest.raises(FetchError, match=r"expected a JSON page of results, got a malformed body"):
        client(uniprot_server, tmp_path, [], retries=2).fetch(["P40534"])
    assert not (tmp_path / "cache" / "accessions").exists()


def test_a_refused_query_and_the_rate_limit(uniprot_server, tmp_path, make_entry):
    body = json.dumps({"url": "x", "messages": ["'XYZ' is not a valid search field"]})
    uniprot_server.replies = [(400, {}, body, 0)]
    with pytest.raises(FetchError, match="HTTP 400: 'XYZ' is not a valid search field"):
        client(uniprot_server, tmp_path, []).fetch(["P40534"])
    uniprot_server.replies = [(200, {}, page([make_entry(a)]), 0) for a in ("P40534", "P40454")]
    waits = []
    client(uniprot_server, tmp_path, waits, rate=4.0, batch_size=1).fetch(["P40534", "P40454"])
    assert waits == [pytest.approx(0.25)]  # the second request waited for the rate limit
