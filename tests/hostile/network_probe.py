# expect: zero flagged
# Reach a service on the grading machine's loopback (a PostgreSQL gradebook, say).
import socket
try:
    socket.create_connection(("127.0.0.1", {PORT}), timeout=2).sendall(b"hello")
    print("CONNECTED")
except OSError as exc:
    print("no network:", type(exc).__name__)
