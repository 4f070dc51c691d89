"""The listening socket the gdb stub and the monitor serve on."""
import socket


def listen(host, port):
    """A TCP socket bound to host:port (port 0: any free one), listening
    for one client at a time; returns (socket, (host, port) it got)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1)
    return sock, sock.getsockname()
