"""Event contracts of the MPA Referral Platform: what crosses Kafka, and nothing else.

vocabularies (codes), types (constrained values), events (payloads and their registry),
envelope (CloudEvents on Kafka), topics, compat (schema evolution rules) and generate
(JSON Schemas and AsyncAPI). See contracts/README.md.
"""
