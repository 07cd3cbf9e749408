"""Record the transcripts of tests/transcripts/recorded/ again, on purpose.

    .venv/bin/python tests/transcripts/record.py                 # every flow
    .venv/bin/python tests/transcripts/record.py tls13-key-update  # some flows
    .venv/bin/python tests/transcripts/record.py --new-pki        # new certificates too

Each flow is recorded with both sides live, then replayed one side at a time (as the
tests do) before its file is written. Review the diff before committing: a change in
a recording is a change in what glasstls puts on the wire or reports.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transcripts.recording import (
    FLOW_BY_NAME,
    FLOWS,
    PKI_DIR,
    Run,
    load,
    load_pki,
    make_pki,
    path_of,
    record,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("flows", nargs="*", help="flow names (default: all)")
    parser.add_argument("--new-pki", action="store_true",
                        help="make new certificates and keys first (every recording changes)")
    args = parser.parse_args()
    if args.new_pki or not PKI_DIR.exists():
        make_pki()
    pki = load_pki()
    unknown = [name for name in args.flows if name not in FLOW_BY_NAME]
    if unknown:
        parser.error(f"unknown flows {unknown}; known: {sorted(FLOW_BY_NAME)}")
    for flow in [FLOW_BY_NAME[name] for name in args.flows] or list(FLOWS):
        path = path_of(flow)
        earlier = load(flow) if path.exists() and not args.new_pki else None
        transcript = record(flow, pki, earlier)
        for side in ("client", "server"):
            Run(flow, pki, (side,), transcript).run()  # it must replay before it is kept
        text = transcript.text()
        old = path.read_text() if path.exists() else None
        path.write_text(text)
        state = "unchanged" if old == text else "new" if old is None else "CHANGED"
        print(f"{state:9}  {path.name}  ({len(transcript.entries)} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
