"""Reliable messaging: transactional outbox, leader-elected relay, idempotent consumers.

* `outbox`   — the tables, and `stage_events`: write events in the caller's transaction.
* `relay`    — publishes committed outbox rows to Kafka in order, one leader per service.
* `consumer` — runs handlers exactly once per event id, retries, dead-letters, commits offsets.
"""
