"""Real XMPP traffic for xmppbin: a recorder (record_session.py), a seeded generator
(generate.py, ``python -m tools.traffic``), a splitter (split.py), pcap output (pcap.py)
and a stats table (stats.py).  See README.md."""
