package lamina.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * A mutation fuzzer for the Java runtime's JSON reader (Json) and writer (Mapper.write),
 * with libFuzzer's command line, so scripts/fuzz.sh runs it like the C++ targets:
 *
 *   JsonFuzz CORPUS_DIR [-seed=N] [-runs=N] [-max_total_time=S] [-timeout=S] [-max_len=N]
 *            [-dict=FILE] [-artifact_prefix=DIR/]     fuzz from the corpus
 *   JsonFuzz FILE...                                  run these inputs once (reproduce)
 *
 * Each input (bytes, read as UTF-8 as the runtime reads an event) must either fail with
 * the reader's own Json.ParseException, or parse to a value that writes back to JSON
 * which parses to an equal value and writes to the same text. Any other exception or
 * error (StackOverflowError included), or an input that takes longer than the timeout,
 * is a finding: the input is written to the artifact prefix and the exit status is 1.
 * Mutations are random, not coverage-guided; a fixed seed and run count repeat a run.
 */
public final class JsonFuzz {
    private JsonFuzz() {}

    private static final String[] TOKENS = {
        "{", "}", "[", "]", ":", ",", "\"", "\\", "\\u", "\\ud83d\\ude00", "\\ud800", "\\udfff", "\\u00e9",
        "\\u0000", "\\\"", "\\n", "\\/", "true", "false", "null", "-", ".", "e", "E", "e+", "e-", "0", "-0",
        "1e400", "-1e400", "1e-400", "1.5e999999999", "1e2147483648", "9223372036854775807",
        "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890", "0.1", "1E+2",
        "00", "\"\":", "{\"a\":", "[[[[", "]]]]", "{}", "[]", "\"\"", " ", "\t", "\n", "\r", "\u2028",
        "\ud83d\ude00", "\u0660", "\uff10", "\uff21", "\ud800", "\u0001", "\u007f",
    };

    private static final class Options {
        long seed = 1;
        long runs = -1;
        long maxTotalSeconds = 0;
        long timeoutSeconds = 10;
        int maxLen = 65536;
        String artifactPrefix = "";
        final List<String> dict = new ArrayList<>();
        final List<Path> paths = new ArrayList<>();
    }

    private static volatile long started;
    private static volatile byte[] current;

    public static void main(String[] args) throws Exception {
        Options o = options(args);
        watchdog(o);
        if (!o.paths.isEmpty() && o.paths.stream().allMatch(Files::isRegularFile)) {
            for (Path p : o.paths) {
                byte[] input = Files.readAllBytes(p);
                check(input, o);
                System.out.println("Executed " + p + " (" + input.length + " bytes): ok");
            }
            return;
        }
        List<byte[]> pool = new ArrayList<>();
        for (Path dir : o.paths) {
            try (Stream<Path> files = Files.walk(dir)) {
                files.filter(Files::isRegularFile).sorted().forEach(f -> pool.add(read(f)));
            }
        }
        if (pool.isEmpty()) pool.add("{}".getBytes(StandardCharsets.UTF_8));
        int seeds = pool.size();
        Random rng = new Random(o.seed);
        long t0 = System.nanoTime(), deadline = o.maxTotalSeconds > 0 ? t0 + o.maxTotalSeconds * 1_000_000_000L : 0;
        long n = 0, parsed = 0, next = 1;
        System.out.println("INFO: Seed: " + o.seed + "; " + seeds + " corpus inputs; " + o.dict.size()
                + " dictionary entries");
        while ((o.runs < 0 || n < o.runs) && (deadline == 0 || System.nanoTime() < deadline)) {
            byte[] input = n < seeds ? pool.get((int) n) : mutate(pool.get(rng.nextInt(pool.size())), pool, rng, o);
            if (check(input, o)) {
                parsed++;
                // a valid document joins the pool (bounded): mutants of it go deeper
                if (n >= seeds && pool.size() < 4096 && rng.nextInt(8) == 0) pool.add(input);
            }
            n++;
            if (n == next) {
                System.out.println("#" + n + "\tpulse  corp: " + pool.size() + " parsed: " + parsed);
                next *= 2;
            }
        }
        double secs = Math.max(1e-9, (System.nanoTime() - t0) / 1e9);
        System.out.println("#" + n + "\tDONE   corp: " + pool.size() + " parsed: " + parsed + " exec/s: "
                + (long) (n / secs));
        System.out.println("stat::number_of_executed_units: " + n);
        System.out.println("stat::average_exec_per_sec:     " + (long) (n / secs));
        System.out.println("stat::peak_rss_mb:              "
                + (Runtime.getRuntime().totalMemory() >> 20));
    }

    /** True when the input parsed; returns normally when it was refused as the reader refuses. */
    static boolean check(byte[] input, Options o) {
        current = input;
        started = System.nanoTime();
        try {
            String text = new String(input, StandardCharsets.UTF_8);
            Object value;
            try {
                value = Json.parse(text);
            } catch (Json.ParseException e) {
                return false;
            }
            String out = Mapper.write(value);
            Object again;
            try {
                again = Json.parse(out);
            } catch (Json.ParseException e) {
                throw new AssertionError("the writer's output does not parse: " + e.getMessage() + "\n" + cut(out));
            }
            if (!java.util.Objects.equals(value, again)) {
                throw new AssertionError("the value changed on a round trip:\n" + cut(out) + "\n" + cut(Mapper.write(again)));
            }
            String twice = Mapper.write(again);
            if (!twice.equals(out)) throw new AssertionError("the writer is not stable:\n" + cut(out) + "\n" + cut(twice));
            return true;
        } catch (Throwable t) {
            finding("crash", input, t, o);
            return false;
        } finally {
            started = 0;
        }
    }

    private static String cut(String s) {
        return s.length() > 400 ? s.substring(0, 400) + "..." : s;
    }

    private static void finding(String kind, byte[] input, Throwable t, Options o) {
        String path = o.artifactPrefix + kind + "-" + sha1(input);
        System.out.println("==ERROR: JsonFuzz: " + (t != null ? t : kind) + " on an input of " + input.length
                + " bytes");
        if (t != null) t.printStackTrace(System.out);
        try {
            Files.write(Paths.get(path), input);
            System.out.println("artifact_prefix='" + o.artifactPrefix + "'; Test unit written to " + path);
        } catch (IOException e) {
            System.out.println("cannot write " + path + ": " + e);
        }
        System.out.flush();
        Runtime.getRuntime().halt(1);
    }

    /** A daemon thread: an input that runs longer than the timeout is a finding. */
    private static void watchdog(Options o) {
        Thread w = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
                long s = started;
                byte[] input = current;
                if (s != 0 && System.nanoTime() - s > o.timeoutSeconds * 1_000_000_000L && input != null) {
                    finding("timeout", input, null, o);
                }
            }
        }, "watchdog");
        w.setDaemon(true);
        w.start();
    }

    // ---- mutations --------------------------------------------------------------------------

    static byte[] mutate(byte[] base, List<byte[]> pool, Random rng, Options o) {
        StringBuilder b = new StringBuilder(new String(base, StandardCharsets.UTF_8));
        int count = 1 + rng.nextInt(rng.nextInt(8) + 1);
        for (int k = 0; k < count; k++) mutateOnce(b, pool, rng, o);
        if (b.length() > o.maxLen) b.setLength(o.maxLen);
        byte[] out = b.toString().getBytes(StandardCharsets.UTF_8);
        if (rng.nextInt(16) == 0 && out.length > 0) {  // raw byte damage: broken UTF-8
            out[rng.nextInt(out.length)] = (byte) rng.nextInt(256);
        }
        return out.length > o.maxLen ? java.util.Arrays.copyOf(out, o.maxLen) : out;
    }

    private static void mutateOnce(StringBuilder b, List<byte[]> pool, Random rng, Options o) {
        int len = b.length();
        int at = len == 0 ? 0 : rng.nextInt(len + 1);
        switch (rng.nextInt(11)) {
            case 0:
                b.insert(at, randomChar(rng));
                break;
            case 1:
                if (len > 0) {
                    int from = rng.nextInt(len);
                    b.delete(from, Math.min(len, from + 1 + rng.nextInt(Math.min(len - from, 16))));
                }
                break;
            case 2:
                if (len > 0) b.setCharAt(rng.nextInt(len), randomChar(rng));
                break;
            case 3:
                b.insert(at, token(rng, o));
                break;
            case 4:
                if (len > 0) {  // a copy of a range elsewhere
                    int from = rng.nextInt(len), to = Math.min(len, from + 1 + rng.nextInt(64));
                    b.insert(rng.nextInt(len + 1), b.substring(from, to));
                }
                break;
            case 5: {  // splice a piece of another input
                String other = new String(pool.get(rng.nextInt(pool.size())), StandardCharsets.UTF_8);
                if (!other.isEmpty()) {
                    int from = rng.nextInt(other.length()), to = Math.min(other.length(), from + 1 + rng.nextInt(256));
                    b.insert(at, other, from, to);
                }
                break;
            }
            case 6: {  // wrap a range in an array or an object member
                int to = at + (len - at == 0 ? 0 : rng.nextInt(len - at + 1));
                boolean array = rng.nextBoolean();
                b.insert(to, array ? "]" : "}");
                b.insert(at, array ? "[" : "{\"k\":");
                break;
            }
            case 7: {  // deep nesting around the reader's bound
                int depth = Json.MAX_DEPTH - 8 + rng.nextInt(16) + (rng.nextInt(4) == 0 ? rng.nextInt(5000) : 0);
                String open = rng.nextBoolean() ? "[" : "{\"a\":";
                StringBuilder d = new StringBuilder();
                for (int k = 0; k < depth; k++) d.append(open);
                d.append(rng.nextBoolean() ? "1" : "");
                if (rng.nextInt(4) != 0) {
                    for (int k = 0; k < depth; k++) d.append(open.equals("[") ? ']' : '}');
                }
                b.insert(at, d);
                break;
            }
            case 8: {  // long numbers
                StringBuilder d = new StringBuilder(rng.nextBoolean() ? "-" : "");
                int digits = 1 + rng.nextInt(rng.nextInt(4) == 0 ? 2000 : 30);
                for (int k = 0; k < digits; k++) d.append((char) ('0' + rng.nextInt(10)));
                if (rng.nextBoolean()) d.append('.').append(rng.nextInt(1000));
                if (rng.nextBoolean()) d.append(rng.nextBoolean() ? 'e' : 'E').append(rng.nextInt(3) - 1 < 0 ? "-" : "")
                        .append(rng.nextInt(4) == 0 ? Long.toString(rng.nextLong() & Long.MAX_VALUE) : Integer.toString(rng.nextInt(700)));
                b.insert(at, d);
                break;
            }
            case 9:
                if (len > 1) {
                    int x = rng.nextInt(len), y = rng.nextInt(len);
                    char c = b.charAt(x);
                    b.setCharAt(x, b.charAt(y));
                    b.setCharAt(y, c);
                }
                break;
            default:  // truncate
                if (len > 0) b.setLength(rng.nextInt(len));
                break;
        }
    }

    private static char randomChar(Random rng) {
        switch (rng.nextInt(4)) {
            case 0: return (char) rng.nextInt(0x20);
            case 1: return (char) (0xd800 + rng.nextInt(0x800));  // a lone surrogate
            case 2: return (char) rng.nextInt(0x10000);
            default: return "{}[]:,\"\\0123456789-+.eEtrufalsn ".charAt(rng.nextInt(31));
        }
    }

    private static String token(Random rng, Options o) {
        if (!o.dict.isEmpty() && rng.nextBoolean()) return o.dict.get(rng.nextInt(o.dict.size()));
        return TOKENS[rng.nextInt(TOKENS.length)];
    }

    // ---- command line -----------------------------------------------------------------------

    static Options options(String[] args) throws IOException {
        Options o = new Options();
        for (String a : args) {
            if (!a.startsWith("-")) {
                o.paths.add(Paths.get(a));
                continue;
            }
            int eq = a.indexOf('=');
            String k = eq < 0 ? a.substring(1) : a.substring(1, eq), v = eq < 0 ? "" : a.substring(eq + 1);
            switch (k) {
                case "seed": o.seed = Long.parseLong(v); break;
                case "runs": o.runs = Long.parseLong(v); break;
                case "max_total_time": o.maxTotalSeconds = Long.parseLong(v); break;
                case "timeout": o.timeoutSeconds = Long.parseLong(v); break;
                case "max_len": o.maxLen = Integer.parseInt(v); break;
                case "artifact_prefix": o.artifactPrefix = v; break;
                case "dict": o.dict.addAll(dictionary(Paths.get(v))); break;
                default: break;  // libFuzzer's other flags (-rss_limit_mb, -print_final_stats): nothing to do
            }
        }
        if (o.seed == 0) o.seed = System.nanoTime();
        return o;
    }

    /** libFuzzer's dictionary format: one "value" (or name="value") a line, \\xNN \\\\ \\" escapes. */
    static List<String> dictionary(Path p) throws IOException {
        if (!Files.isRegularFile(p)) return Collections.emptyList();
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(p, StandardCharsets.UTF_8)) {
            int q = line.indexOf('"'), end = line.lastIndexOf('"');
            if (line.trim().startsWith("#") || q < 0 || end <= q) continue;
            String v = line.substring(q + 1, end);
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            for (int k = 0; k < v.length(); k++) {
                char c = v.charAt(k);
                if (c == '\\' && k + 1 < v.length()) {
                    char e = v.charAt(++k);
                    if (e == 'x' && k + 2 < v.length()) {
                        bytes.write(Integer.parseInt(v.substring(k + 1, k + 3), 16));
                        k += 2;
                        continue;
                    }
                    c = e;
                }
                byte[] u = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                bytes.write(u, 0, u.length);
            }
            out.add(new String(bytes.toByteArray(), StandardCharsets.UTF_8));
        }
        return out;
    }

    private static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String sha1(byte[] data) {
        try {
            StringBuilder s = new StringBuilder();
            for (byte x : MessageDigest.getInstance("SHA-1").digest(data)) s.append(String.format("%02x", x));
            return s.toString();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
