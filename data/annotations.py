"""Readers of UniProt and GO annotation files: each yields :class:`Annotation` records.

Sources here: SwissProt flat files (``.txt``/``.dat``), UniProt XML
(streamed, plain or gzipped), UniProt TSV and JSON exports (the REST API's
formats). GO annotation files (GAF 2.x) and GO term-to-gene tables are read
by :mod:`ppi.data.go_files`.

A term is kept with its namespace, one of :data:`NAMESPACES`: GO biological
process, molecular function and cellular component, UniProt keywords, protein
domains (Pfam, InterPro), subcellular locations and EC numbers.
"""

from __future__ import annotations

import gzip
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from Bio import SwissProt

from ppi.data._io import gzip_errors, is_gzip, not_utf8, read_lines, require_file, xml_errors
from ppi.errors import InputError

NAMESPACES = ("go_bp", "go_mf", "go_cc", "keyword", "domain", "location", "ec")
_GO_ASPECT = {"P": "go_bp", "F": "go_mf", "C": "go_cc"}
_DOMAIN_DBS = ("Pfam", "InterPro")
_XML_NS = "{http://uniprot.org/uniprot}"
#: ECO codes of newer UniProt XML -> GO evidence codes (after GO's gaf-eco-mapping.txt,
#: geneontology.org); codes not listed are kept as they are
_ECO = {
    "ECO:0000353": "IPI",
    "ECO:0000314": "IDA",
    "ECO:0000315": "IMP",
    "ECO:0000316": "IGI",
    "ECO:0000270": "IEP",
    "ECO:0000250": "ISS",
    "ECO:0000269": "EXP",
    "ECO:0000304": "TAS",
    "ECO:0000303": "NAS",
    "ECO:0000305": "IC",
    "ECO:0000318": "IBA",
    "ECO:0000307": "ND",
    "ECO:0000501": "IEA",
    "ECO:0007669": "IEA",
    "ECO:0000256": "IEA",
    "ECO:0000255": "ISM",
}
_MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()


@dataclass(frozen=True)
class Annotation:
    """One term of one protein.

    Attributes:
        accession: the UniProt accession.
        term: the term id (``GO:0005737``, ``KW-0963``, ``PF00069``, ``SL-0086``,
            ``EC:2.7.11.1``); a keyword or location without an id is its name.
        namespace: one of :data:`NAMESPACES`.
        evidence: evidence code (``IDA``, ``IPI``, ``IEA``...); empty when unknown.
        source: where it was read (the file's name, or ``uniprot-rest``).
        date: the source's date for it (``YYYY-MM-DD`` or as given); may be empty.
        name: the term's readable name, where the source gives it.
    """

    accession: str
    term: str
    namespace: str
    evidence: str = ""
    source: str = ""
    date: str = ""
    name: str = ""


# -- UniProt JSON (REST API and JSON exports) --------------------------------------


def entry_annotations(entry: dict[str, Any], source: str) -> list[Annotation]:
    """The terms of one UniProt JSON entry (as the REST API returns it)."""
    acc = entry.get("primaryAccession")
    if not acc:
        raise InputError(
            f"{source}: expected an entry with 'primaryAccession', got {_brief(entry)}"
        )
    date = (entry.get("entryAudit") or {}).get("lastAnnotationUpdateDate", "")
    found = _json_xrefs(entry) + _json_described(entry)
    return [Annotation(acc, t, ns, ev, source, date, name) for t, ns, ev, name in found]


def _json_xrefs(entry: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for xref in entry.get("uniProtKBCrossReferences", []):
        props = {p.get("key"): p.get("value", "") for p in xref.get("properties", [])}
        if xref.get("database") == "GO":
            aspect, _, name = props.get("GoTerm", "").partition(":")
            if aspect in _GO_ASPECT:
                evidence = _evidence(props.get("GoEvidenceType", ""))
                out.append((xref["id"], _GO_ASPECT[aspect], evidence, name))
        elif xref.get("database") in _DOMAIN_DBS:
            out.append((xref["id"], "domain", "", props.get("EntryName", "")))
    return out


def _json_described(entry: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = [
        (kw.get("id") or kw["name"], "keyword", "", kw.get("name", ""))
        for kw in entry.get("keywords", [])
    ]
    for comment in entry.get("comments", []):
        if comment.get("commentType") != "SUBCELLULAR LOCATION":
            continue
        for loc in comment.get("subcellularLocations", []):
            value = loc.get("location", {})
            if value.get("id") or value.get("value"):
                term = value.get("id") or value["value"]
                out.append((term, "location", "", value.get("value", "")))
    names = (entry.get("proteinDescription") or {}).get("recommendedName") or {}
    out += [(f"EC:{ec['value']}", "ec", "", "") for ec in names.get("ecNumbers", [])]
    return out


def read_uniprot_json(path: str | Path) -> Iterator[Annotation]:
    """Annotations of a UniProt JSON export (``{"results": [entry, ...]}``), plain or gzipped."""
    path = require_file(path, "UniProt JSON file")
    text = "\n".join(line for _, line in read_lines(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: expected UniProt JSON, got {exc.msg}") from None
    entries = data.get("results") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise InputError(f"{path}: expected a 'results' list of entries, got {_brief(data)}")
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise InputError(f"{path}: entry {number}: expected an object, got {_brief(entry)}")
        yield from entry_annotations(entry, path.name)


# -- SwissProt flat files -------------------------------------------------------------


def read_swissprot(path: str | Path) -> Iterator[Annotation]:
    """Annotations of a SwissProt/UniProtKB flat file (one or many records, plain or gzipped)."""
    path = require_file(path, "SwissProt flat file")
    opener = gzip.open if is_gzip(path) else open
    number = 0
    with opener(path, "rt", encoding="utf-8") as handle, gzip_errors(path):
        try:
            for number, record in enumerate(SwissProt.parse(handle), start=1):  # noqa: B007
                yield from _swissprot_record(record, path.name)
        except UnicodeDecodeError as exc:
            raise not_utf8(path, exc) from None
        except (ValueError, AssertionError) as exc:
            raise InputError(
                f"{path}: record {number + 1}: expected a SwissProt flat-file record, got {exc}"
            ) from None


def _swissprot_record(record: Any, source: str) -> list[Annotation]:
    acc = record.accessions[0]
    date = _flat_date((record.annotation_update or ("",))[0])
    out = []
    for xref in record.cross_references:
        if xref[0] == "GO" and len(xref) >= 4:
            aspect, _, name = xref[2].partition(":")
            evidence = _evidence(xref[3].rstrip("."))
            if aspect in _GO_ASPECT:
                out.append(
                    Annotation(acc, xref[1], _GO_ASPECT[aspect], evidence, source, date, name)
                )
        elif xref[0] in _DOMAIN_DBS:
            name = xref[2] if len(xref) > 2 else ""
            out.append(Annotation(acc, xref[1], "domain", "", source, date, name))
    for kw in record.keywords:
        out.append(Annotation(acc, kw, "keyword", "", source, date, kw))
    for comment in record.comments:
        if comment.startswith("SUBCELLULAR LOCATION:"):
            for loc in _locations(comment.split(":", 1)[1]):
                out.append(Annotation(acc, loc, "location", "", source, date, loc))
    for ec in re.findall(r"EC=([0-9n.\-]+)", record.description):
        out.append(Annotation(acc, f"EC:{ec}", "ec", "", source, date))
    return out


def _locations(text: str) -> list[str]:
    """Location names of a SUBCELLULAR LOCATION comment (evidence tags and notes dropped)."""
    text = re.sub(r"\{[^}]*\}", "", text).split("Note=")[0]
    out = []
    for sentence in text.split("."):
        head = sentence.split(";")[0].strip()
        if head and not head.startswith("["):
            out.append(head)
    return out


# -- UniProt XML ----------------------------------------------------------------------


def read_uniprot_xml(path: str | Path) -> Iterator[Annotation]:
    """Annotations of a UniProt XML file, streamed entry by entry (plain or gzipped).

    A file cut short or otherwise malformed raises :class:`InputError` naming
    the line and the last complete entry.
    """
    path = require_file(path, "UniProt XML file")
    opener = gzip.open if is_gzip(path) else open
    last, number = "none", 0
    with opener(path, "rb") as handle, gzip_errors(path), xml_errors(path):
        try:
            for _, elem in ET.iterparse(handle, events=("end",)):
                if elem.tag != f"{_XML_NS}entry":
                    continue
                number += 1
                records = _xml_entry(elem, path.name)
                last = records[0].accession if records else elem.findtext(f"{_XML_NS}accession")
                yield from records
                elem.clear()
        except ET.ParseError as exc:
            line = exc.position[0]
            raise InputError(
                f"{path}:{line}: expected complete UniProt XML, got a malformed or cut-short "
                f"file after entry {number} ({last}): {exc}"
            ) from None


def _xml_entry(entry: ET.Element, source: str) -> list[Annotation]:
    q = _XML_NS
    acc = entry.findtext(f"{q}accession", "")
    date = entry.get("modified", "")
    out = []
    for ref in entry.findall(f"{q}dbReference"):
        props = {p.get("type"): p.get("value", "") for p in ref.findall(f"{q}property")}
        kind, term = ref.get("type"), ref.get("id", "")
        if kind == "GO":
            aspect, _, name = props.get("term", "").partition(":")
            evidence = _evidence(props.get("evidence", ""))
            if aspect in _GO_ASPECT:
                out.append(Annotation(acc, term, _GO_ASPECT[aspect], evidence, source, date, name))
        elif kind in _DOMAIN_DBS:
            name = props.get("entry name", "")
            out.append(Annotation(acc, term, "domain", "", source, date, name))
    for kw in entry.findall(f"{q}keyword"):
        out.append(
            Annotation(acc, kw.get("id") or kw.text, "keyword", "", source, date, kw.text or "")
        )
    for loc in entry.iterfind(f"{q}comment/{q}subcellularLocation/{q}location"):
        if loc.text:
            out.append(Annotation(acc, loc.text, "location", "", source, date, loc.text))
    for ec in entry.iterfind(f"{q}protein/{q}recommendedName/{q}ecNumber"):
        out.append(Annotation(acc, f"EC:{ec.text}", "ec", "", source, date))
    return out


# -- UniProt TSV exports --------------------------------------------------------------

#: TSV export column -> (namespace, pattern of the term ids in a cell)
_TSV_COLUMNS = {
    "Gene Ontology (biological process)": ("go_bp", r"GO:\d{7}"),
    "Gene Ontology (molecular function)": ("go_mf", r"GO:\d{7}"),
    "Gene Ontology (cellular component)": ("go_cc", r"GO:\d{7}"),
    "Keyword ID": ("keyword", r"KW-\d{4}"),
    "Pfam": ("domain", r"PF\d{5}"),
    "InterPro": ("domain", r"IPR\d{6}"),
    "EC number": ("ec", r"[0-9n][0-9n.\-]*"),
    "Subcellular location [CC]": ("location", None),
}


def read_uniprot_tsv(path: str | Path) -> Iterator[Annotation]:
    """Annotations of a UniProt TSV export: an ``Entry`` column plus known term columns."""
    path = require_file(path, "UniProt TSV file")
    lines = read_lines(path)
    _, header_line = next(lines, (1, ""))
    header = header_line.split("\t")
    if "Entry" not in header:
        raise InputError(f"{path}:1: expected a UniProt TSV header with 'Entry', got {header[:4]}")
    used = {i: _TSV_COLUMNS[h] for i, h in enumerate(header) if h in _TSV_COLUMNS}
    entry = header.index("Entry")
    for number, line in lines:
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise InputError(
                f"{path}:{number}: expected {len(header)} tab-separated columns, got {len(fields)}"
            )
        for col, (namespace, pattern) in used.items():
            for term in _tsv_terms(fields[col], pattern):
                term = f"EC:{term}" if namespace == "ec" else term
                yield Annotation(fields[entry], term, namespace, "", path.name)


def _tsv_terms(cell: str, pattern: str | None) -> list[str]:
    if pattern is None:
        return _locations(cell.split(":", 1)[1]) if ":" in cell else []
    return re.findall(pattern, cell)


def _evidence(text: str) -> str:
    """``IDA:SGD`` -> ``IDA``; an ECO code -> its GO evidence code where known."""
    if text.startswith("ECO:"):
        return _ECO.get(text, text)
    return text.split(":")[0]


def _flat_date(text: str) -> str:
    """``11-DEC-2019`` -> ``2019-12-11`` (other forms are kept as they are)."""
    parts = text.split("-")
    if len(parts) == 3 and parts[1] in _MONTHS:
        return f"{parts[2]}-{_MONTHS.index(parts[1]) + 1:02d}-{int(parts[0]):02d}"
    return text


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."
