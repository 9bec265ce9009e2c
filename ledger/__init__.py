"""Yidi Ledger domain: records, facts, aggregates, posting rules. Pure: no I/O.

Import direction: ``ledger`` imports nothing from ``projections``, ``consumers`` or ``yidi``,
nor any database or Kafka client.
"""
