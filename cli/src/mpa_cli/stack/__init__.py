"""The local stack: a private PostgreSQL cluster and a one-node Kafka, started for the platform."""
