"""Model families behind one protocol (``protocol.py``); registered in ``jepa_bench.registry``."""
