"""Local stand-ins for everything secret-fetch talks to, and the harness that
starts them around the real `bootstrap` binary.

- `base`: the HTTP server, control endpoints and fault hook they all share;
- `runtime_api`: the Lambda Runtime API (and the Invoke API a caller uses);
- `alpha_vantage`: the Alpha Vantage market-data API;
- `snowflake`: the Snowflake SQL API v2, executing statements on DuckDB
  (`snowflake_sql`) over the demo tables of `snowflake_demo`;
- `secrets_proxy`: a counting, fault-injecting proxy in front of moto's
  Secrets Manager;
- `harness`: starts all of them and runs the binary (`scripts/run-local`,
  tests/e2e, bench/run.py).

`runtime_api`, `alpha_vantage` and `snowflake` also run on their own:
`python -m emulators.<name> --help`.
"""
