"""A loopback stand-in for https://httpbin.org/get, for the layer example.

    python3 httpbin_stub.py PORT_FILE [LIFETIME_SECONDS]

Listens on 127.0.0.1 (a free port, written to PORT_FILE), answers GET /get
with httpbin's JSON shape, logs one line per request to stdout
("GET /get <User-Agent>"), and exits after LIFETIME_SECONDS (default 120)
even if nobody stops it.
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] != "/get":
            self.send_error(404)
            return
        body = json.dumps({"args": {}, "headers": {k: v for k, v in self.headers.items()},
                           "origin": self.client_address[0],
                           "url": f"http://{self.headers.get('Host', '')}{self.path}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        print(f"GET {self.path} {self.headers.get('User-Agent', '-')}", flush=True)

    def log_message(self, fmt, *args):  # one line per request is printed by do_GET
        pass


def main():
    port_file = sys.argv[1]
    lifetime = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, port_file)
    threading.Timer(lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
