"""Download structures from AlphaFold DB (by UniProt accession) or RCSB (by PDB id and chain).

Polite and resumable: a timeout per request, retries with exponential
backoff on connection errors, HTTP 429 and 5xx, at most ``rate`` requests
per second, files written atomically into the output folder, and a rerun
asks only for what is missing. A protein without a structure is recorded in
``failures.tsv`` (404s, HTML error pages, non-structures), not fatal;
``structures.tsv`` maps every fetched protein to its file, ready for
``channels.structure.mapping``. A server that gives no answer after the
retries (no connection, timeouts, 429 or 5xx) says nothing about the protein:
those ids go to ``unreached.tsv`` instead, and a rerun asks for exactly them.
After ``GIVE_UP`` ids in a row without an answer the server is taken to be
down and the remaining ids are not asked (they are unreached too).
"""

from __future__ import annotations

import gzip
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from tqdm.auto import tqdm

from ppi.data.id_map import ACCESSION
from ppi.errors import InputError
from ppi.utils.files import atomic_write, atomic_write_text

log = logging.getLogger("ppi")

SOURCES = {
    "alphafold": "https://alphafold.ebi.ac.uk/files/AF-{id}-F1-model_v4.pdb",
    "rcsb": "https://files.rcsb.org/download/{id}.cif",
}
SUFFIX = {"alphafold": ".pdb", "rcsb": ".cif"}
#: what a reference of each source looks like (it also names the file kept in the folder)
REF_FORMS = {
    "alphafold": "a UniProt accession such as P12345 (isoform suffix allowed: P12345-2)",
    "rcsb": "a PDB id with an optional chain such as 1ABC_A, 1ABC:A or 1ABC",
}
_ISOFORM = re.compile(r"^([A-Z0-9]+)(?:-[0-9]+)?$")
_PDB_REF = re.compile(r"^[0-9][A-Za-z0-9]{3}(?:[_:.][A-Za-z0-9]+)?$")
#: failures that asking again will not fix (a transient one is retried on the next run)
PERMANENT = ("not found", "HTML", "not a structure", "empty")
#: ids in a row without an answer after which the others are not asked
GIVE_UP = 3


class FetchError(Exception):
    """A download that did not give a structure.

    ``permanent`` when retrying is pointless; ``unreached`` when the server
    gave no answer at all (so nothing is known about the protein).
    """

    def __init__(self, message: str, permanent: bool, unreached: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.unreached = unreached


@dataclass
class FetchReport:
    """What a fetch did: files fetched now, already there, failures and unreached ids."""

    fetched: list[str]
    cached: list[str]
    failed: dict[str, str]
    unreached: dict[str, str] = field(default_factory=dict)


def check_ref(source: str, ref: str) -> None:
    """Raise ``ValueError`` unless ``ref`` has the form of a reference of ``source``.

    The form keeps the file named after it inside the output folder (no
    path separators, no ``..``).
    """
    if source == "rcsb":
        ok = bool(_PDB_REF.match(ref))
    else:
        isoform = _ISOFORM.match(ref)
        ok = bool(isoform and ACCESSION.match(isoform.group(1)))
    if not ok:
        raise ValueError(f"expected {REF_FORMS[source]}, got {ref[:60]!r}")


def check_url(url: str) -> None:
    """Raise :class:`InputError` unless ``url`` is a template with ``{id}`` as its only field."""
    if "{id}" not in url:
        raise InputError(
            f"--url {url}: expected a URL template with {{id}} where the reference goes, got none "
            "(every protein would get the same file)"
        )
    try:
        url.format(id="")
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(
            f"--url {url}: expected a URL template with {{id}} as its only field, got "
            f"{type(exc).__name__}: {exc} (write a literal brace as {{{{ or }}}})"
        ) from None


def parse_ref(source: str, ref: str) -> tuple[str, str]:
    """The remote id and the chain of a reference (``1ABC_A`` / ``1ABC:A`` for RCSB)."""
    if source == "rcsb":
        for sep in ("_", ":", "."):
            if sep in ref:
                entry, chain = ref.split(sep, 1)
                return entry.upper(), chain
        return ref.upper(), ""
    return ref, ""


class StructureFetcher:
    """Fetches structure files into ``out`` (see the module docstring).

    Args:
        out: output folder (also the cache: existing files are not fetched again).
        source: ``alphafold`` or ``rcsb``.
        url: URL template with ``{id}`` (default: the source's public server).
        timeout: seconds per request.
        retries: extra attempts after a transient failure.
        backoff: first wait in seconds; doubled at each retry.
        rate: most requests per second.
        retry_failed: ask again for ids recorded as permanently failed.
    """

    def __init__(
        self,
        out: str | Path,
        source: str = "alphafold",
        url: str = "",
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        rate: float = 5.0,
        retry_failed: bool = False,
    ) -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown structure source {source!r} (choices: {', '.join(SOURCES)})")
        if url:
            check_url(url)
        self.out, self.source = Path(out), source
        self.url = url or SOURCES[source]
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.retry_failed = retry_failed
        self.session = requests.Session()
        self._last = 0.0
        self._unanswered = 0  # ids in a row the server gave no answer for

    def path(self, entry: str) -> Path:
        """Where the file of a remote id is kept."""
        return self.out / f"{entry}{SUFFIX[self.source]}"

    def fetch(self, refs: dict[str, str]) -> FetchReport:
        """Fetch what is missing for ``{protein id: reference}``; write the two tables."""
        for pid, ref in refs.items():
            try:
                check_ref(self.source, ref)
            except ValueError as exc:
                raise InputError(f"protein {pid}: {exc}") from None
        self.out.mkdir(parents=True, exist_ok=True)
        failures = self._read_failures()
        report = FetchReport([], [], {})
        for pid, ref in tqdm(refs.items(), desc=f"fetching {self.source}", disable=None):
            entry, _ = parse_ref(self.source, ref)
            if self.path(entry).is_file():
                report.cached.append(pid)
            elif pid in failures and not self.retry_failed:
                report.failed[pid] = failures[pid]
            else:
                self._try(pid, entry, report)
        self._write_tables(refs, report)
        return report

    def _try(self, pid: str, entry: str, report: FetchReport) -> None:
        """Download one entry, filing the outcome under fetched, failed or unreached."""
        if self._unanswered >= GIVE_UP:
            report.unreached[pid] = f"not asked: no answer for the {GIVE_UP} ids before"
            return
        try:
            self._download(entry)
            report.fetched.append(pid)
        except FetchError as exc:
            (report.unreached if exc.unreached else report.failed)[pid] = str(exc)
            self._unanswered = self._unanswered + 1 if exc.unreached else 0
            return
        self._unanswered = 0

    def _download(self, entry: str) -> None:
        url = self.url.format(id=entry)
        body = _check_body(url, self._get(url))
        atomic_write(self.path(entry), body)

    def _get(self, url: str) -> bytes:
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            self._wait()
            try:
                response = self.session.get(url, timeout=self.timeout)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in (404, 410):
                raise FetchError(f"{url}: not found (HTTP {response.status_code})", True)
            if response.status_code == 429 or response.status_code >= 500:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code != 200:
                raise FetchError(f"{url}: HTTP {response.status_code}", False)
            return response.content
        raise FetchError(
            f"{url}: no answer after {self.retries + 1} attempts ({last})", False, unreached=True
        )

    def _wait(self) -> None:
        delay = self._last + self.interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._last = time.monotonic()

    def _read_failures(self) -> dict[str, str]:
        path = self.out / "failures.tsv"
        if not path.is_file():
            return {}
        rows = (line.split("\t", 1) for line in path.read_text().splitlines()[1:] if line)
        return {pid: reason for pid, reason in rows if any(p in reason for p in PERMANENT)}

    def _write_tables(self, refs: dict[str, str], report: FetchReport) -> None:
        rows = ["id\tpath\tchain"]
        for pid in report.cached + report.fetched:
            entry, chain = parse_ref(self.source, refs[pid])
            rows.append(f"{pid}\t{self.path(entry).name}\t{chain}")
        atomic_write_text(self.out / "structures.tsv", "\n".join(rows) + "\n")
        lines = ["id\treason"] + [f"{p}\t{r}" for p, r in report.failed.items()]
        atomic_write_text(self.out / "failures.tsv", "\n".join(lines) + "\n")
        unreached = self.out / "unreached.tsv"
        if report.unreached:
            rows = ["id\treason"] + [f"{p}\t{r}" for p, r in report.unreached.items()]
            atomic_write_text(unreached, "\n".join(rows) + "\n")
        else:
            unreached.unlink(missing_ok=True)
        for pid, reason in list(report.failed.items())[:20]:
            log.warning("no structure for %s: %s", pid, reason)


def _check_body(url: str, body: bytes) -> bytes:
    """The body if it is a structure file; a permanent :class:`FetchError` otherwise."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    head = body[:2048].lstrip().lower()
    if not head:
        raise FetchError(f"{url}: expected a structure file, got an empty response", True)
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
        raise FetchError(f"{url}: expected a structure file, got an HTML error page", True)
    text = body[:200000]
    if b"ATOM  " not in text and b"_atom_site" not in text and not head.startswith(b"data_"):
        raise FetchError(f"{url}: expected a structure file, got not a structure", True)
    return body
