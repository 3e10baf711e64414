"""`make bench`: the measurements (`bench`, `bench_rewrite`, under the latency model of `latency`), the reports
(`bench_report`, `storage_cost`) and the command line above both (`bench_cli`)."""
