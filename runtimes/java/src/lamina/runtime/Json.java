package lamina.runtime;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader: text to Map (LinkedHashMap), List, String, Long, BigInteger,
 * Double, BigDecimal, Boolean and null; plus the string quoting the writer uses.
 * JSON's grammar (ASCII digits, four hex digits in \\u escapes; leading zeros
 * accepted, as AWS's reader does), values nested at most MAX_DEPTH deep; every
 * refusal is a ParseException.
 */
final class Json {
    /** How deep arrays and objects may nest (the writer accepts at least as much). */
    static final int MAX_DEPTH = 512;

    /** Text that is not JSON (or nests deeper than MAX_DEPTH): the reader's only failure. */
    static final class ParseException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
        ParseException(String message) {
            super(message);
        }
    }

    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    /** The value the whole text holds; ParseException when it is not JSON. */
    static Object parse(String text) {
        Json p = new Json(text);
        p.space();
        Object v = p.value(0);
        p.space();
        if (p.i != p.s.length()) throw p.error("unexpected text after the value");
        return v;
    }

    private ParseException error(String what) {
        return new ParseException("malformed JSON at offset " + i + ": " + what);
    }

    private void space() {
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
            i++;
        }
    }

    private Object value(int depth) {
        if (depth >= MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH);
        if (i >= s.length()) throw error("unexpected end");
        char c = s.charAt(i);
        switch (c) {
            case '{':
                return object(depth);
            case '[':
                return array(depth);
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return number();
                throw error("unexpected character '" + c + "'");
        }
    }

    private Object literal(String word, Object v) {
        if (!s.startsWith(word, i)) throw error("expected " + word);
        i += word.length();
        return v;
    }

    private Map<String, Object> object(int depth) {
        Map<String, Object> m = new LinkedHashMap<>();
        i++;
        space();
        if (i < s.length() && s.charAt(i) == '}') {
            i++;
            return m;
        }
        while (true) {
            space();
            if (i >= s.length() || s.charAt(i) != '"') throw error("expected a key");
            String k = string();
            space();
            if (i >= s.length() || s.charAt(i) != ':') throw error("expected ':'");
            i++;
            space();
            m.put(k, value(depth + 1));
            space();
            if (i >= s.length()) throw error("unexpected end");
            char c = s.charAt(i++);
            if (c == '}') return m;
            if (c != ',') throw error("expected ',' or '}'");
        }
    }

    private List<Object> array(int depth) {
        List<Object> l = new ArrayList<>();
        i++;
        space();
        if (i < s.length() && s.charAt(i) == ']') {
            i++;
            return l;
        }
        while (true) {
            space();
            l.add(value(depth + 1));
            space();
            if (i >= s.length()) throw error("unexpected end");
            char c = s.charAt(i++);
            if (c == ']') return l;
            if (c != ',') throw error("expected ',' or ']'");
        }
    }

    private String string() {
        i++;
        StringBuilder b = null;
        int start = i;
        while (true) {
            if (i >= s.length()) throw error("unterminated string");
            char c = s.charAt(i);
            if (c == '"') {
                String out = b == null ? s.substring(start, i) : b.append(s, start, i).toString();
                i++;
                return out;
            }
            if (c < 0x20) throw error("control character in a string");
            if (c != '\\') {
                i++;
                continue;
            }
            if (b == null) b = new StringBuilder();
            b.append(s, start, i);
            if (i + 1 >= s.length()) throw error("unterminated escape");
            char e = s.charAt(i + 1);
            i += 2;
            switch (e) {
                case '"': b.append('"'); break;
                case '\\': b.append('\\'); break;
                case '/': b.append('/'); break;
                case 'b': b.append('\b'); break;
                case 'f': b.append('\f'); break;
                case 'n': b.append('\n'); break;
                case 'r': b.append('\r'); break;
                case 't': b.append('\t'); break;
                case 'u':
                    if (i + 4 > s.length()) throw error("short \\u escape");
                    int code = 0;
                    for (int k = 0; k < 4; k++) {
                        int d = Character.digit(s.charAt(i + k), 16);
                        // Character.digit also takes non-ASCII digits: JSON does not
                        if (d < 0 || s.charAt(i + k) > 'f') throw error("bad \\u escape");
                        code = code * 16 + d;
                    }
                    b.append((char) code);
                    i += 4;
                    break;
                default:
                    throw error("bad escape");
            }
            start = i;
        }
    }

    private Object number() {
        int start = i;
        if (s.charAt(i) == '-') i++;
        int digits = i;
        while (i < s.length() && digit(s.charAt(i))) i++;
        if (i == digits) throw error("expected digits");
        boolean integral = true;
        if (i < s.length() && s.charAt(i) == '.') {
            integral = false;
            i++;
            int frac = i;
            while (i < s.length() && digit(s.charAt(i))) i++;
            if (i == frac) throw error("expected digits after '.'");
        }
        if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            integral = false;
            i++;
            if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) i++;
            int exp = i;
            while (i < s.length() && digit(s.charAt(i))) i++;
            if (i == exp) throw error("expected exponent digits");
        }
        String t = s.substring(start, i);
        if (integral) {
            if (t.length() < 19) return Long.parseLong(t);
            BigInteger big = new BigInteger(t);
            return big.bitLength() < 64 ? (Object) big.longValue() : big;
        }
        double d = Double.parseDouble(t);
        if (!Double.isInfinite(d)) return d;
        try {
            return new BigDecimal(t);
        } catch (NumberFormatException e) {  // an exponent beyond BigDecimal's int scale
            i = start;
            throw error("number out of range");
        }
    }

    private static boolean digit(char c) {
        return c >= '0' && c <= '9';
    }

    /** s as a JSON string literal, quotes included. */
    static void quote(StringBuilder out, String s) {
        out.append('"');
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                case '\b': out.append("\\b"); break;
                case '\f': out.append("\\f"); break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        out.append('"');
    }
}
