"""`make demo` (`demo`, run as `python -m local.demo`) and the analyst workload it and the tests run
(`analyst_workload`)."""
