"""The ``glasstls`` command: demo, client, server, certs, serve."""
