"""`make bench`: the measurements (`bench`, `bench_rewrite`, `bench_tpch` on `tpch`'s lineitem, the AWS CLI peer
`cli_peer`, under the latency model of `latency`), the reports (`bench_report`, the real-account model
`night_model`, `storage_cost`) and the command line above both (`bench_cli`)."""
