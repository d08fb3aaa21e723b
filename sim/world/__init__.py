"""The simulated Internet on simpy: network, DNS zones, MTAs, traffic and faults."""
