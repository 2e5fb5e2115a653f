#!/usr/bin/python3
"""gen-limits: writes node/limits_table.c, the EBS attachment limit of every EC2
instance type, from a TSV (instance_type, hypervisor, max_ebs_attachments,
limit_type, ebs_cards) such as shared/reference/ebs-attach-limits.tsv.

The repository keeps a copy of that TSV in tests/fixtures/ (the build cannot
read ../shared, and tests/node/test_limits.c checks every row against the table)
and commits the generated C, so the build needs no Python. The output is
deterministic (no dates): regenerating from the same TSV gives the same bytes,
which --check verifies.

It refuses data it cannot vouch for rather than guessing: duplicate types,
unknown hypervisor or limit type, non-numeric or out-of-range numbers, names too
long for the table's fixed field, and Xen types that are not (39, dedicated),
the rule upstream applies to every Xen type.

Usage (from the repository root):
    /usr/bin/python3 tools/gen-limits.py [TSV] [-o node/limits_table.c]
    /usr/bin/python3 tools/gen-limits.py --check      # exit 1 if the file is stale
"""

import argparse
import hashlib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TSV = "tests/fixtures/ebs-attach-limits.tsv"
DEFAULT_OUT = "node/limits_table.c"
COLUMNS = ["instance_type", "hypervisor", "max_ebs_attachments", "limit_type", "ebs_cards"]
TYPE_MAX = 24  # LIMITS_TYPE_MAX in node/limits.h, NUL included
XEN_LIMIT = 39  # LIMITS_XEN_ATTACHMENTS
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


class DataError(Exception):
    pass


def parse(text, source):
    notes, rows, header_seen, seen = [], [], False, set()
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"{source}:{lineno}"
        if not line.strip():
            continue
        if line.startswith("#"):
            notes.append(line[1:].strip())
            continue
        fields = line.split("\t")
        if not header_seen:
            if fields != COLUMNS:
                raise DataError(f"{where}: header {fields} != {COLUMNS}")
            header_seen = True
            continue
        if len(fields) != len(COLUMNS):
            raise DataError(f"{where}: {len(fields)} fields, want {len(COLUMNS)}")
        name, hyper, limit, kind, cards = fields
        if not NAME_RE.match(name) or len(name) >= TYPE_MAX:
            raise DataError(f"{where}: bad instance type {name!r} (max {TYPE_MAX - 1} chars)")
        if name in seen:
            raise DataError(f"{where}: duplicate instance type {name}")
        seen.add(name)
        if hyper not in ("nitro", "xen"):
            raise DataError(f"{where}: hypervisor {hyper!r} is neither nitro nor xen")
        if kind not in ("shared", "dedicated"):
            raise DataError(f"{where}: limit_type {kind!r} is neither shared nor dedicated")
        try:
            limit, cards = int(limit), int(cards)
        except ValueError:
            raise DataError(f"{where}: non-numeric limit or card count") from None
        if not 1 <= limit <= 65535:
            raise DataError(f"{where}: max_ebs_attachments {limit} out of range")
        if not 1 <= cards <= 255:
            raise DataError(f"{where}: ebs_cards {cards} out of range")
        if hyper == "xen" and (limit != XEN_LIMIT or kind != "dedicated"):
            raise DataError(f"{where}: xen type {name} is not ({XEN_LIMIT}, dedicated)")
        rows.append((name, limit, cards, kind == "dedicated", hyper == "xen"))
    if not header_seen or not rows:
        raise DataError(f"{source}: no header or no rows")
    # strcmp() order: Python compares str by code point, which for these ASCII
    # names is byte order.
    rows.sort(key=lambda r: r[0].encode())
    return notes, rows


def flags(dedicated, xen):
    f = ["LIMITS_DEDICATED" if dedicated else "LIMITS_SHARED"]
    if xen:
        f.append("LIMITS_XEN")
    return " | ".join(f)


def render(notes, rows, source, digest):
    n_xen = sum(1 for r in rows if r[4])
    n_ded = sum(1 for r in rows if r[3] and not r[4])
    n_shared = sum(1 for r in rows if not r[3])
    n_multi = sum(1 for r in rows if r[2] > 1)
    out = []
    out.append("/*")
    out.append(" * limits_table: EBS volume attachment limits per EC2 instance type.")
    out.append(" * GENERATED FILE - do not edit; regenerate with")
    out.append(" *     /usr/bin/python3 tools/gen-limits.py")
    out.append(f" * from {source} (sha256 {digest[:16]}...), a copy of")
    out.append(" * shared/reference/ebs-attach-limits.tsv, whose notes read:")
    for note in notes:
        out.append(f" *   {note}".rstrip())
    out.append(f" * {len(rows)} types: {n_ded} Nitro dedicated, {n_shared} Nitro shared, {n_xen} Xen (39,")
    out.append(f" * dedicated); {n_multi} with more than one EBS card. Sorted by strcmp() for the bisection")
    out.append(" * in node/limits.c; tests/node/test_limits.c checks every row against the TSV.")
    out.append(" */")
    out.append('#include "node/limits.h"')
    out.append("")
    out.append("const struct limits_entry limits_table[] = {")
    for name, limit, cards, dedicated, xen in rows:
        out.append(f'\t{{ "{name}", {limit}, {cards}, {flags(dedicated, xen)} }},')
    out.append("};")
    out.append("")
    out.append("const size_t limits_table_len = sizeof limits_table / sizeof limits_table[0];")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tsv", nargs="?", default=DEFAULT_TSV, help=f"input TSV (default {DEFAULT_TSV})")
    ap.add_argument("-o", "--output", default=DEFAULT_OUT, help=f"output C file (default {DEFAULT_OUT})")
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if the output is out of date")
    args = ap.parse_args()
    os.chdir(ROOT)

    with open(args.tsv, "rb") as f:
        raw = f.read()
    # Name the source relative to the repository when it lies inside it.
    source = os.path.relpath(os.path.abspath(args.tsv), ROOT)
    if source.startswith(".."):
        source = os.path.basename(args.tsv)
    try:
        notes, rows = parse(raw.decode("utf-8"), source)
    except DataError as e:
        print(f"gen-limits: {e}", file=sys.stderr)
        return 2
    text = render(notes, rows, source, hashlib.sha256(raw).hexdigest())

    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print(f"gen-limits: {args.output} is out of date; run tools/gen-limits.py", file=sys.stderr)
            return 1
        return 0
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.output)
    print(f"gen-limits: wrote {args.output}: {len(rows)} types", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
