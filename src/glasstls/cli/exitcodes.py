"""Exit codes of the glasstls command: distinct for each kind of failure."""

OK = 0
USAGE = 2  # bad arguments (argparse uses 2 as well)
NETWORK = 3  # cannot resolve, connect, or the connection dropped
TLS = 4  # the handshake failed or the peer sent a fatal alert
CERTIFICATE = 5  # the peer's certificate was rejected (untrusted, expired, wrong name)
INTERRUPTED = 130  # Ctrl-C
