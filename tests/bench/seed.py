#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
seed.py: THE ORIGINAL SEED SCRIPT that ackd replaces, for `make bench`.

The server logic below, between the two "seed script" markers, is the
script from the issue as it was: an AF_INET socket, bind, listen(5), one
threading.Thread per client, recv(1024), print the received text (a
.decode() that raises on bytes that are not UTF-8, as the original does),
send b"ACK!", print the peer's address, close. Only the I/O plumbing
around it is new, so that run.py can drive it like tests/bench/reference
and tests/bench/baseline:

  usage: seed.py --port P [--bind ADDR] --log FILE

  --port 0 picks a free port; --bind defaults to 127.0.0.1 (the script
  hard-coded 0.0.0.0:9999); print() goes to FILE, opened for append and
  line-buffered (like the script's print() on a terminal); "ready port=P"
  goes to the real stdout, flushed, once the socket listens; SIGTERM or
  SIGINT ends the process at once, leaving client threads in flight to
  die with it (the script had no way to stop but ^C).
"""

import argparse
import os
import signal
import socket
import sys
import threading


def seed_args(argv):
    """The plumbing's command line, shaped like reference's and baseline's."""
    ap = argparse.ArgumentParser(prog="seed.py", description="The original "
        "thread-per-client ACK script, with --port/--bind/--log plumbing.")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--log", required=True)
    args = ap.parse_args(argv)
    if not 0 <= args.port <= 65535:
        ap.error("--port: not a number in 0-65535: %d" % args.port)
    return args


def seed_stop(signum, frame):
    """SIGTERM/SIGINT: exit now; print() is line-buffered, nothing to flush."""
    os._exit(0)


args = seed_args(sys.argv[1:])
ready_out = sys.stdout
sys.stdout = open(args.log, "a", buffering=1)   # line-buffered, for print()
signal.signal(signal.SIGTERM, seed_stop)
signal.signal(signal.SIGINT, seed_stop)

# ---- seed script (only bind_ip/bind_port and the ready line changed) ----

# Define the IP address and port to bind the server
bind_ip = args.bind     # was "0.0.0.0"
bind_port = args.port   # was 9999

# Create a TCP socket object
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

# Bind the socket to the specified IP and port
server.bind((bind_ip, bind_port))
bind_port = server.getsockname()[1]     # plumbing: the real port for --port 0

# Start listening for incoming connections (backlog of 5)
server.listen(5)

# Print a message indicating the server is ready to accept connections
print(f"[*] Listening on {bind_ip}:{bind_port}")
print(f"ready port={bind_port}", file=ready_out, flush=True)    # plumbing


# Function to handle client connections
def handle_client(client_socket):
    """
    This function handles communication with a connected client.
    It receives data from the client, prints it, sends an acknowledgment,
    and closes the connection.
    """
    try:
        # Receive data from the client (up to 1024 bytes)
        request = client_socket.recv(1024)
        print(f"[*] Received: {request.decode()}")

        # Send an acknowledgment back to the client
        client_socket.send(b"ACK!")

        # Print the client's IP address and port
        print(f"[*] Client Address: {client_socket.getpeername()}")

    finally:
        # Close the client socket
        client_socket.close()


# Main server loop to accept incoming connections
while True:
    # Accept a new connection
    client, addr = server.accept()
    print(f"[*] Accepted connection from {addr[0]}:{addr[1]}")

    # Spin up a new thread to handle the client
    client_handler = threading.Thread(target=handle_client, args=(client,))
    client_handler.start()

# ---- end of the seed script ----
