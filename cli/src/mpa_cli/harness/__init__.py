"""The platform under test: private stacks, real service processes, faults, load and checks.

Each piece is small and usable on its own, from the fault-injection tests (`tests/faults/`)
and from the end-to-end benchmark (`bench/e2e.py`):

- `stack.PrivateStack`: a PostgreSQL cluster and a Kafka broker of its own, on free ports,
  in a folder of its own (the checkout's resolved Kafka jars are reused);
- `platform.Platform`: one deployment of the four services on a stack (its own database
  schema and topic prefix), each service a separate OS process (`processes.ServiceProcess`);
- `faults`: PostgreSQL stopped or paused, the broker killed, a service killed, the relay's
  crash window replayed, and (`netns`) a service cut off from PostgreSQL or Kafka;
- `receiver.WebhookReceiver`: a partner's endpoint on 127.0.0.1 that verifies signatures;
- `load.LoadGenerator`: registers cases over HTTP at a fixed rate or at saturation;
- `checks`: what must hold after a scenario, each a precise query, and `report` its table.

Faults only ever touch processes this harness started, by the pid it recorded.
"""
