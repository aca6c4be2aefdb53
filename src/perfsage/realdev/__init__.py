"""Real devices: the NAS-Bench-201 and FBNet latency tables (27 devices) and HELP's protocols on them."""
