package lamina.runtime;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A minimal HTTP/1.1 client for the Runtime API over one keep-alive socket
 * (java.net.http would cost a cold start far more than this does). A request
 * whose connection turns out to be dropped is retried once on a new one.
 */
final class RuntimeApi {
    static final class Response {
        final int status;
        final Map<String, String> headers;  // lower-cased names
        final byte[] body;

        Response(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }
    }

    private String host;
    private int port;
    private String address;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    RuntimeApi(String address) {
        retarget(address);
    }

    /** Talks to another Runtime API from now on (a restored environment's own). */
    void retarget(String address) {
        close();
        this.address = address;
        int colon = address.lastIndexOf(':');
        String h = colon < 0 ? address : address.substring(0, colon);
        if (h.startsWith("[") && h.endsWith("]")) h = h.substring(1, h.length() - 1);
        this.host = h.isEmpty() ? "127.0.0.1" : h;
        this.port = colon < 0 ? 80 : Integer.parseInt(address.substring(colon + 1));
    }

    Response request(String method, String path, byte[] body, Map<String, String> headers) throws IOException {
        StringBuilder head = new StringBuilder(256);
        head.append(method).append(" /2018-06-01/runtime").append(path).append(" HTTP/1.1\r\nHost: ")
                .append(address).append("\r\n");
        if (headers != null) {
            for (Map.Entry<String, String> e : headers.entrySet()) {
                head.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
            }
        }
        if (body != null) head.append("Content-Length: ").append(body.length).append("\r\n");
        head.append("\r\n");
        byte[] h = head.toString().getBytes(StandardCharsets.UTF_8);
        for (int attempt = 0;; attempt++) {
            try {
                if (socket == null) connect();
                out.write(h);
                if (body != null) out.write(body);
                out.flush();
                return read();
            } catch (IOException e) {
                close();
                if (attempt > 0) throw e;
            }
        }
    }

    private void connect() throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress(host, port));
        socket = s;
        in = new java.io.BufferedInputStream(s.getInputStream(), 65536);
        out = new java.io.BufferedOutputStream(s.getOutputStream(), 65536);
    }

    /** Closes the connection: the next request opens a new one. */
    void close() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing a broken connection
            }
        }
        socket = null;
    }

    private String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(128);
        while (true) {
            int c = in.read();
            if (c < 0) throw new IOException("the Runtime API closed the connection");
            if (c == '\n') break;
            b.write(c);
        }
        byte[] bytes = b.toByteArray();
        int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, n, StandardCharsets.ISO_8859_1);
    }

    private Response read() throws IOException {
        while (true) {
            String start = line();
            String[] parts = start.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
                throw new IOException("malformed Runtime API response: " + start);
            }
            int status = Integer.parseInt(parts[1]);
            Map<String, String> headers = new HashMap<>();
            for (String l = line(); !l.isEmpty(); l = line()) {
                int colon = l.indexOf(':');
                if (colon > 0) {
                    headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
                }
            }
            if (status < 200) continue;  // an interim response: the real one follows
            byte[] body;
            String length = headers.get("content-length");
            if (status == 204 || status == 304) {
                body = new byte[0];
            } else if (headers.getOrDefault("transfer-encoding", "").toLowerCase(Locale.ROOT).contains("chunked")) {
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                while (true) {
                    String size = line();
                    int semi = size.indexOf(';');
                    int n = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
                    if (n == 0) break;
                    b.write(exactly(n));
                    line();
                }
                while (!line().isEmpty()) {
                    // trailer fields
                }
                body = b.toByteArray();
            } else if (length != null) {
                body = exactly(Integer.parseInt(length));
            } else {
                body = in.readAllBytes();
                close();
                return new Response(status, headers, body);
            }
            if (headers.getOrDefault("connection", "").toLowerCase(Locale.ROOT).contains("close")) close();
            return new Response(status, headers, body);
        }
    }

    private byte[] exactly(int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length != n) throw new IOException("the Runtime API closed the connection");
        return b;
    }
}
