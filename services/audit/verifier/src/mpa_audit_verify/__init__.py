"""Offline verification of the MPA audit log, with nothing of the platform's services.

What an auditor (or a witness) needs to check the log without trusting the platform, and
nothing else (no database, no network client, no service code; only `cryptography`):

- `hashing`, `compact_range`, `proofs`: the RFC 6962 / RFC 9162 Merkle tree: leaf and node
  hashes, the right edge of a tree, and verification of inclusion and consistency proofs;
- `note`, `checkpoint`: C2SP signed notes and the log's signed tree heads (checkpoints);
- `cosignature`: witnesses' C2SP cosignatures of checkpoints;
- `export`: the export format of `GET /v1/audit/export` and its verification;
- `witness`: a C2SP tlog-witness (`mpa audit witness` serves it over HTTP);
- `command`: the `mpa-audit-verify` command (`mpa audit verify` runs the same code).
"""
