"""A small, polite client of the UniProt REST API (``rest.uniprot.org``), with a disk cache.

Accessions are asked for in batches (``accession:A OR accession:B ...``)
with only the fields the annotation channel uses, following the API's cursor
pagination (``Link: <...>; rel="next"``). Every request carries a
User-Agent and a timeout, waits for the rate limit, and is retried with
exponential backoff on 429 and 5xx answers (honouring ``Retry-After``),
timeouts and broken connections. Each page's raw body is cached on disk, and
so is each requested accession's outcome, so a rerun or a resumed run asks
only for what is missing.

Outcomes per requested accession: ``found``, ``merged`` (UniProt names it as
a secondary accession of another entry), ``obsolete`` (an inactive entry)
or ``unknown`` (no entry at all). Nothing is silently dropped.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from ppi import __version__
from ppi.errors import InputError
from ppi.utils.cache import digest
from ppi.utils.files import atomic_write_text

BASE_URL = "https://rest.uniprot.org"
#: return fields of the search endpoint the annotation channel needs
FIELDS = (
    "accession",
    "sec_acc",
    "go",
    "keyword",
    "xref_pfam",
    "xref_interpro",
    "ec",
    "cc_subcellular_location",
    "date_modified",
)
USER_AGENT = f"ppi/{__version__} (protein-protein interaction research; python-requests)"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class FetchError(InputError):
    """UniProt could not give a usable answer after the retries (or refused the query)."""


@dataclass
class FetchResult:
    """What a fetch found.

    Attributes:
        entries: primary accession -> raw UniProt JSON entry.
        status: requested accession -> ``found``, ``merged``, ``obsolete`` or ``unknown``.
        merged_into: requested accession -> the primary accession it was merged into.
        requests: HTTP requests made (0 when everything came from the cache).
    """

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    merged_into: dict[str, str] = field(default_factory=dict)
    requests: int = 0

    def problems(self) -> dict[str, list[str]]:
        """Requested accessions that are not plain hits, by outcome."""
        out: dict[str, list[str]] = {}
        for acc, status in self.status.items():
            if status != "found":
                out.setdefault(status, []).append(acc)
        return out


@dataclass
class UniProtClient:
    """Fetches UniProt entries by accession.

    Attributes:
        cache_dir: folder for raw pages and per-accession outcomes.
        base_url: the API root (tests point it at a local server).
        batch_size: accessions per query.
        page_size: results per page (the API allows up to 500).
        timeout: seconds per request.
        retries: attempts after the first before giving up.
        backoff: first wait in seconds when no ``Retry-After`` is given (doubles each time).
        max_wait: the longest single wait, whatever ``Retry-After`` says.
        rate: most requests per second.
        sleep: how to wait (tests pass a recorder).
        clock: monotonic time source.
    """

    cache_dir: Path
    base_url: str = BASE_URL
    batch_size: int = 100
    page_size: int = 500
    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0
    max_wait: float = 120.0
    rate: float = 3.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    session: requests.Session = field(default_factory=requests.Session)
    _last: float = field(default=-1e9, init=False)
    _requests: int = field(default=0, init=False)

    def fetch(
        self, accessions: Iterable[str], progress: Callable[[int], None] | None = None
    ) -> FetchResult:
        """Entries and outcomes for ``accessions``; cached outcomes are not asked again."""
        wanted = list(dict.fromkeys(accessions))
        todo = [a for a in wanted if not self._outcome_path(a).is_file()]
        self._requests = 0
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            self._record(batch, self._query(batch))
            if progress:
                progress(len(batch))
        result = FetchResult(requests=self._requests)
        for acc in wanted:
            outcome = json.loads(self._outcome_path(acc).read_text())
            result.status[acc] = outcome["status"]
            if outcome.get("into"):
                result.merged_into[acc] = outcome["into"]
            if outcome.get("entry"):
                result.entries[outcome["entry"]] = self._entry(outcome["entry"])
        return result

    # -- requests -----------------------------------------------------------------------
    def _query(self, batch: list[str]) -> list[dict[str, Any]]:
        query = " OR ".join(f"accession:{a}" for a in batch)
        params = {
            "query": query,
            "fields": ",".join(FIELDS),
            "format": "json",
            "size": self.page_size,
        }
        url: str | None = f"{self.base_url}/uniprotkb/search?{urlencode(params)}"
        entries = []
        while url:
            body, url = self._page(url)
            entries.extend(body["results"])
        return entries

    def _page(self, url: str) -> tuple[dict[str, Any], str | None]:
        """One page's body and the next page's URL, from the cache when there."""
        path = self.cache_dir / "pages" / f"{digest(url)[:32]}.json"
        if path.is_file():
            cached = json.loads(path.read_text())
            return cached["body"], cached["next"]
        body, next_url = self._get(url)
        atomic_write_text(path, json.dumps({"url": url, "next": next_url, "body": body}))
        return body, next_url

    def _get(self, url: str) -> tuple[dict[str, Any], str | None]:
        last = ""
        for attempt in range(self.retries + 1):
            self._wait_rate()
            try:
                resp = self.session.get(
                    url, timeout=self.timeout, headers={"User-Agent": USER_AGENT}
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                last = f"{type(exc).__name__}"
                self._backoff(attempt, None)
                continue
            if resp.status_code in RETRY_STATUS:
                last = f"HTTP {resp.status_code}"
                self._backoff(attempt, resp.headers.get("Retry-After"))
                continue
            if resp.status_code != 200:
                raise FetchError(
                    f"{_short(url)}: UniProt answered HTTP {resp.status_code}: {_message(resp)}"
                )
            body = _parse(resp)
            if body is None:
                last = f"a malformed body ({resp.text[:40]!r})"
                self._backoff(attempt, None)
                continue
            return body, resp.links.get("next", {}).get("url")
        raise FetchError(
            f"{_short(url)}: expected a JSON page of results, got {last} "
            f"after {self.retries + 1} attempts; run again later to resume"
        )

    def _wait_rate(self) -> None:
        gap = 1.0 / self.rate - (self.clock() - self._last) if self.rate > 0 else 0.0
        if gap > 0:
            self.sleep(gap)
        self._last = self.clock()
        self._requests += 1

    def _backoff(self, attempt: int, retry_after: str | None) -> None:
        if attempt >= self.retries:
            return
        wait = self.backoff * 2**attempt
        if retry_after and retry_after.strip().isdigit():
            wait = float(retry_after)
        self.sleep(min(wait, self.max_wait))

    # -- cache of outcomes --------------------------------------------------------------
    def _outcome_path(self, acc: str) -> Path:
        return self.cache_dir / "accessions" / f"{acc}.json"

    def _entry(self, primary: str) -> dict[str, Any]:
        return json.loads((self.cache_dir / "entries" / f"{primary}.json").read_text())

    def _record(self, batch: list[str], entries: list[dict[str, Any]]) -> None:
        """Write each entry and each requested accession's outcome."""
        by_acc: dict[str, dict[str, str]] = {}
        for entry in entries:
            primary = entry.get("primaryAccession", "")
            if entry.get("entryType", "").startswith("Inactive"):
                by_acc[primary] = _inactive(entry)
                continue
            atomic_write_text(self.cache_dir / "entries" / f"{primary}.json", json.dumps(entry))
            by_acc[primary] = {"status": "found", "entry": primary}
            for old in entry.get("secondaryAccessions", []):
                by_acc.setdefault(old, {"status": "merged", "entry": primary, "into": primary})
        for acc in batch:
            outcome = by_acc.get(acc, {"status": "unknown"})
            atomic_write_text(self._outcome_path(acc), json.dumps(outcome))


def _inactive(entry: dict[str, Any]) -> dict[str, str]:
    """The outcome of an inactive entry: merged (into what) or obsolete."""
    reason = entry.get("inactiveReason") or {}
    into = reason.get("mergeDemergeTo") or []
    if reason.get("inactiveReasonType") == "MERGED" and into:
        return {"status": "merged", "into": into[0]}
    return {"status": "obsolete"}


def _parse(resp: requests.Response) -> dict[str, Any] | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return None
    return body


def _message(resp: requests.Response) -> str:
    try:
        return "; ".join(resp.json().get("messages", [])) or resp.text[:80]
    except ValueError:
        return resp.text[:80]


def _short(url: str) -> str:
    return url if len(url) < 100 else url[:97] + "..."


def default_cache_dir() -> Path:
    """``$PPI_CACHE/uniprot`` (default ``~/.cache/ppi/uniprot``)."""
    from ppi.utils.cache import cache_root

    return Path(os.fspath(cache_root())) / "uniprot"
