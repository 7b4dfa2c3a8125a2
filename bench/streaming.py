#!/usr/bin/env python3
"""Function URL and response streaming benchmark for lamina (numbers printed, nothing asserted).

1. A warm Node.js function called through its BUFFERED function URL next to the same function
   through Invoke, side by side in one run: p50/p99 of sequential calls on one keep-alive
   connection (alternating blocks of 200), and requests/s under wrk (8 connections) when wrk is
   installed. Target: URL within 1.2x of Invoke.
2. Time to first byte of a streamed answer: the function writes one chunk carrying the wall-clock
   time (µs) at which it wrote it; the client notes when those bytes arrive through a
   RESPONSE_STREAM URL and through InvokeWithResponseStream. Target: < 1 ms.
3. A 200 MiB stream through a RESPONSE_STREAM URL: lamina's resident memory sampled every 5 ms
   during the stream, peak minus idle. Target: < 16 MB.

    python3 bench/streaming.py [--bin build/lamina] [--samples 2000]
"""
import argparse
import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

from benchlib import DEFAULT_BIN, lamina_process, pct

HANDLER = r'''
exports.plain = async () => ({statusCode: 200, body: 'ok'});
exports.stream = awslambda.streamifyResponse(async (event, stream) => {
  const q = event.queryStringParameters || event;
  if (q.mb) {
    const block = Buffer.alloc(1 << 20, 120);
    for (let i = 0; i < Number(q.mb); i++) {
      if (!stream.write(block)) await new Promise((r) => stream.once('drain', r));
    }
    stream.end();
    return;
  }
  const us = Math.round((performance.timeOrigin + performance.now()) * 1000);
  stream.write(String(us) + '\n');
  await new Promise((r) => setTimeout(r, 100));
  stream.end('done');
});
'''


def zip_b64(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("index.js")
        info.external_attr = 0o100644 << 16
        z.writestr(info, source)
    return base64.b64encode(buf.getvalue()).decode()


class Conn:
    """One keep-alive connection; request() returns the status, head and whole body
    (Content-Length or chunked)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)  # small reads keep the buffer (and its re-slicing) small
        if not data:
            raise RuntimeError("connection closed")
        self.buf += data

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head

    def chunk(self):
        """The next chunk's data (b"" at the last chunk)."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        while len(self.buf) < size + 2:
            self._fill()
        # (the last chunk's CRLF is the end of an empty trailer section: lamina sends none)
        data, self.buf = self.buf[:size], self.buf[size + 2:]
        return data

    def request(self, raw):
        self.sock.sendall(raw)
        head = self.head()
        lower = head.lower()
        if b"transfer-encoding: chunked" in lower:
            body = b""
            while True:
                c = self.chunk()
                if not c:
                    break
                body += c
            return head, body
        length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")))
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return head, body


def api(port, method, path, body=None, expect=(200, 201, 202, 204)):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.read()
    if r.status not in expect:
        raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
    return json.loads(out) if out else {}


def setup(port, name, handler, mode):
    api(port, "POST", "/2015-03-31/functions", {
        "FunctionName": name, "Runtime": "nodejs22.x", "Role": "arn:aws:iam::000000000000:role/r",
        "Handler": handler, "Timeout": 60, "MemorySize": 512, "Code": {"ZipFile": zip_b64(HANDLER)}})
    url = api(port, "POST", f"/2021-10-31/functions/{name}/url",
              {"AuthType": "NONE", "InvokeMode": mode})["FunctionUrl"]
    api(port, "POST", f"/2015-03-31/functions/{name}/policy",
        {"StatementId": "public", "Action": "lambda:InvokeFunctionUrl", "Principal": "*",
         "FunctionUrlAuthType": "NONE"})
    return url.split("//", 1)[1].rstrip("/")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wrk_rate(port, path, method, host, seconds):
    if not shutil.which("wrk"):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(f'wrk.method = "{method}"\nwrk.body = "{{}}"\nwrk.headers["Host"] = "{host}"\n')
    try:
        url = f"http://127.0.0.1:{port}{path}"
        subprocess.run(["wrk", "-t2", "-c8", "-d1s", "-s", f.name, url], check=True, capture_output=True)
        out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", f.name, url], check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Requests/sec:"):
                return float(line.split()[1])
    finally:
        os.unlink(f.name)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=3)
    args = ap.parse_args()
    print(f"machine load: {open('/proc/loadavg').read().split()[:3]}")
    with lamina_process(args.bin) as (proc, port):
        plain_host = setup(port, "plain", "index.plain", "BUFFERED")
        stream_host = setup(port, "streamer", "index.stream", "RESPONSE_STREAM")

        # 1. URL vs Invoke, warm, alternating blocks on one connection each
        invoke_req = (b"POST /2015-03-31/functions/plain/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Length: 2\r\n\r\n{}")
        url_req = f"GET / HTTP/1.1\r\nHost: {plain_host}\r\n\r\n".encode()
        ci, cu = Conn(port), Conn(port)
        for _ in range(50):
            ci.request(invoke_req)
            cu.request(url_req)
        t_inv, t_url = [], []
        block = 200
        for _ in range(max(1, args.samples // block)):
            for conn, req, out in ((ci, invoke_req, t_inv), (cu, url_req, t_url)):
                for _ in range(block):
                    t0 = time.perf_counter()
                    head, _ = conn.request(req)
                    out.append((time.perf_counter() - t0) * 1000)
                    if not head.startswith(b"HTTP/1.1 200"):
                        raise RuntimeError(head[:200])
        rate_inv = wrk_rate(port, "/2015-03-31/functions/plain/invocations", "POST", "127.0.0.1", args.seconds)
        rate_url = wrk_rate(port, "/", "GET", plain_host, args.seconds)

        # 2. time to first byte of a streamed answer
        def first_chunk_delay(raw, eventstream):
            c = Conn(port)
            c.sock.sendall(raw)
            c.head()
            data = c.chunk()
            arrived = time.time() * 1e6
            if eventstream:  # the payload of the first PayloadChunk message
                headers_len = int.from_bytes(data[4:8], "big")
                data = data[12 + headers_len:-4]
            written = int(data.split(b"\n")[0])
            while c.chunk():
                pass
            c.sock.close()
            return (arrived - written) / 1000.0

        url_stream_req = f"GET / HTTP/1.1\r\nHost: {stream_host}\r\n\r\n".encode()
        iwrs_req = (b"POST /2021-11-15/functions/streamer/response-streaming-invocations HTTP/1.1\r\n"
                    b"Host: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}")
        for _ in range(5):
            first_chunk_delay(url_stream_req, False)
        ttfb_url = [first_chunk_delay(url_stream_req, False) for _ in range(50)]
        ttfb_iwrs = [first_chunk_delay(iwrs_req, True) for _ in range(50)]

        # 3. 200 MiB through a RESPONSE_STREAM URL: peak resident memory above idle
        time.sleep(0.5)
        idle = rss_kb(proc.pid)
        peak = [idle]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kb(proc.pid))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        c = Conn(port)
        t0 = time.perf_counter()
        c.sock.sendall(f"GET /?mb=200 HTTP/1.1\r\nHost: {stream_host}\r\n\r\n".encode())
        c.head()
        total = 0
        while True:
            d = c.chunk()
            if not d:
                break
            total += len(d)
        seconds = time.perf_counter() - t0
        stop.set()
        sampler.join()

    print(f"{'':34}{'p50 ms':>10}{'p99 ms':>10}{'req/s (wrk)':>14}")
    print(f"{'Invoke (warm node)':34}{pct(t_inv, 50):>10.3f}{pct(t_inv, 99):>10.3f}{rate_inv or '-':>14}")
    print(f"{'function URL, BUFFERED':34}{pct(t_url, 50):>10.3f}{pct(t_url, 99):>10.3f}{rate_url or '-':>14}")
    ratio = pct(t_url, 50) / pct(t_inv, 50)
    print(f"URL/Invoke p50 ratio: {ratio:.2f} (target <= 1.2)"
          + (f"; req/s ratio Invoke/URL: {rate_inv / rate_url:.2f}" if rate_inv and rate_url else ""))
    print(f"first byte after the function wrote it: URL p50 {pct(ttfb_url, 50):.3f} ms p99 {pct(ttfb_url, 99):.3f} ms; "
          f"InvokeWithResponseStream p50 {pct(ttfb_iwrs, 50):.3f} ms p99 {pct(ttfb_iwrs, 99):.3f} ms (target < 1 ms)")
    print(f"200 MiB stream: {total / (1 << 20):.0f} MiB in {seconds:.2f} s ({total / (1 << 20) / seconds:.0f} MiB/s); "
          f"lamina RSS idle {idle / 1024:.1f} MB, peak {peak[0] / 1024:.1f} MB, "
          f"+{(peak[0] - idle) / 1024:.1f} MB (target < 16 MB)")
    print(f"machine load after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    sys.exit(main())
