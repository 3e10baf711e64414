"""`make bench`: runs local/bench/bench.py's measurements and prints or writes local/bench/bench_report.py's reports.

The command line lives here, above both: the report reads what the bench measured (local/bench/bench_report.py imports
local/bench/bench.py), so the bench itself never imports the report (tests/test_import_graph.py)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from local.bench.bench import REGION, BenchError, parse_args, run_bench
from local.bench.bench_report import console_report, markdown_report, result_json
from local.emulator.aws_emulator import Emulator, fake_aws_environment


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    config, args = parse_args(argv)
    # Nothing here may reach a real account: the bench's own clients and the job's get fake credentials.
    environment = fake_aws_environment("http://127.0.0.1:9", region=REGION)
    os.environ.clear()
    os.environ.update(environment)
    command = " ".join(["python -m local.bench.bench_cli", *argv])
    with Emulator() as emulator:
        try:
            result = run_bench(emulator, config, command, log=lambda m: print(m, file=sys.stderr, flush=True))
        except BenchError as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
    print(console_report(result))
    if args.write_docs:
        args.write_docs.write_text(markdown_report(result))
        print(f"\nwrote {args.write_docs}")
    if args.json:
        args.json.write_text(json.dumps(result_json(result), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
