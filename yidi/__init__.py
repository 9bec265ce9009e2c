"""The edge of Yidi Ledger: CLI, backends, simulator, benchmarks' helpers. Nothing imports it."""
