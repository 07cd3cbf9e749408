"""Interop tests: glasstls against real, independent TLS peers on 127.0.0.1.

- ``driver.py``: a glasstls connection over a blocking socket (``glass_client``,
  ``GlassServer``), a stand-in for ``glasstls.io`` kept local to these tests.
- ``processes.py``: peer programs as child processes, output captured, always killed.
- ``peer_output.py``: what each peer says it negotiated, in glasstls's names.
- ``matrix.py``: the suites, groups and certificates covered, and pinned configs.

A missing peer skips locally and fails under ``GLASSTLS_REQUIRE_PEERS=1``
(``tests/peers.py``). Every test module is marked ``interop``.
"""
