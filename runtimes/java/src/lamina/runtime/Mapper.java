package lamina.runtime;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.temporal.TemporalAccessor;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Maps handler inputs and outputs between JSON and Java values the way AWS's Java
 * runtime does: Map, List, String, numbers, booleans and arrays as themselves;
 * POJOs by their public fields and bean properties, named as AWS's Jackson setup
 * names them (USE_STD_BEAN_NAMING: getURL is "URL", getUrl "url"; JSON keys matched
 * case-sensitively, unknown keys ignored; null properties left out); java.util.Date as
 * epoch milliseconds; a single value where an array is expected reads as one
 * element, and "" where an object is expected as null; byte[] and ByteBuffer as
 * base64. The aws-lambda-java-events classes as AWS's runtime maps them: see Events.
 */
final class Mapper {
    private Mapper() {}

    /** A value that cannot be mapped: AWS's runtime answers it as a serialization error. */
    static final class MappingException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        MappingException(String message) {
            super(message);
        }
    }

    private static final Map<Class<?>, Map<String, Method>> GETTERS = new ConcurrentHashMap<>();

    // ---- Java to JSON ----------------------------------------------------------------------

    static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value, 0);
        return out.toString();
    }

    private static void write(StringBuilder out, Object v, int depth) {
        // twice the reader's bound: what it reads writes back, a bean costing two levels
        if (depth > 2 * Json.MAX_DEPTH) throw new MappingException("the result nests too deeply (a cycle?)");
        if (v == null) {
            out.append("null");
        } else if (v instanceof String || v instanceof Character || v instanceof CharSequence) {
            Json.quote(out, v.toString());
        } else if (v instanceof Boolean) {
            out.append(v);
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                Json.quote(out, Double.toString(d));
            } else {
                out.append(v);
            }
        } else if (v instanceof Number) {
            out.append(v instanceof BigDecimal ? ((BigDecimal) v).toString() : v.toString());
        } else if (v instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) out.append(',');
                first = false;
                Json.quote(out, String.valueOf(e.getKey()));
                out.append(':');
                write(out, e.getValue(), depth + 1);
            }
            out.append('}');
        } else if (v instanceof Iterable) {
            out.append('[');
            boolean first = true;
            for (Object o : (Iterable<?>) v) {
                if (!first) out.append(',');
                first = false;
                write(out, o, depth + 1);
            }
            out.append(']');
        } else if (v instanceof byte[]) {
            Json.quote(out, Base64.getEncoder().encodeToString((byte[]) v));
        } else if (v instanceof ByteBuffer) {
            ByteBuffer b = ((ByteBuffer) v).duplicate();
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            Json.quote(out, Base64.getEncoder().encodeToString(bytes));
        } else if (v.getClass().isArray()) {
            out.append('[');
            for (int k = 0, n = Array.getLength(v); k < n; k++) {
                if (k > 0) out.append(',');
                write(out, Array.get(v, k), depth + 1);
            }
            out.append(']');
        } else if (v instanceof Enum) {
            Json.quote(out, ((Enum<?>) v).name());
        } else if (v instanceof Date) {
            out.append(((Date) v).getTime());
        } else if (v instanceof TemporalAccessor || v instanceof java.util.UUID || Events.isDateTime(v.getClass())) {
            Json.quote(out, v.toString());
        } else if (Events.isS3(v.getClass())) {
            write(out, Events.writeS3(v), depth + 1);
        } else {
            writeBean(out, v, depth);
        }
    }

    private static void writeBean(StringBuilder out, Object v, int depth) {
        Class<?> c = v.getClass();
        boolean event = Events.supported(c);
        Map<String, Method> getters = GETTERS.computeIfAbsent(c, Mapper::getters);
        Map<String, Object> values = new TreeMap<>();
        for (Field f : v.getClass().getFields()) {
            if (Modifier.isStatic(f.getModifiers())) continue;
            try {
                Object x = f.get(v);
                if (x != null) values.put(f.getName(), x);
            } catch (IllegalAccessException e) {
                // a public field of a class that is not public itself: left out
            }
        }
        for (Map.Entry<String, Method> e : getters.entrySet()) {
            try {
                Object x = e.getValue().invoke(v);
                // AWS's events: dates as epoch seconds, names as its mixins give them
                if (event && x instanceof Date) x = ((Date) x).getTime() / 1000.0;
                String name = event ? Events.jsonName(c, e.getKey()) : e.getKey();
                if (x != null) {
                    values.put(name, x);
                } else {
                    values.remove(name);
                }
            } catch (ReflectiveOperationException ex) {
                Throwable cause = ex.getCause() != null ? ex.getCause() : ex;
                throw new MappingException("getter " + e.getValue().getName() + " of " + v.getClass().getName()
                        + " failed: " + cause);
            }
        }
        write(out, values, depth + 1);
    }

    private static Map<String, Method> getters(Class<?> c) {
        Map<String, Method> out = new TreeMap<>();
        for (Method m : c.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0 || m.isBridge()) continue;
            if (m.getDeclaringClass() == Object.class) continue;
            if (!Modifier.isPublic(m.getDeclaringClass().getModifiers())) m.setAccessible(true);
            String n = m.getName();
            String prop = null;
            if (n.startsWith("get") && n.length() > 3 && m.getReturnType() != void.class) {
                prop = n.substring(3);
            } else if (n.startsWith("is") && n.length() > 2
                    && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class)) {
                prop = n.substring(2);
            }
            if (prop != null) out.put(Events.supported(c) ? propertyName(prop) : beanName(prop), m);
        }
        return out;
    }

    /**
     * A property's name as java.beans.Introspector.decapitalize (Jackson's
     * USE_STD_BEAN_NAMING) makes it: "Name" -> "name", "URL" -> "URL", "X" -> "x".
     */
    static String beanName(String s) {
        if (s.isEmpty() || (s.length() > 1 && Character.isUpperCase(s.charAt(0))
                && Character.isUpperCase(s.charAt(1)))) {
            return s;
        }
        return Character.toLowerCase(s.charAt(0)) + s.substring(1);
    }

    /**
     * The aws-lambda-java-events classes' names (their mixins): "Name" -> "name",
     * "URL" -> "url", "URLPath" -> "urlpath" (the leading capitals, lower-cased).
     */
    static String propertyName(String s) {
        StringBuilder b = new StringBuilder(s.length());
        int k = 0;
        while (k < s.length() && Character.isUpperCase(s.charAt(k))) b.append(Character.toLowerCase(s.charAt(k++)));
        return b.append(s, k, s.length()).toString();
    }

    // ---- JSON to Java ----------------------------------------------------------------------

    static Class<?> raw(Type t) {
        if (t instanceof Class) return (Class<?>) t;
        if (t instanceof ParameterizedType) return raw(((ParameterizedType) t).getRawType());
        if (t instanceof GenericArrayType) {
            return Array.newInstance(raw(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
        }
        if (t instanceof WildcardType) return raw(((WildcardType) t).getUpperBounds()[0]);
        return Object.class;  // a type variable
    }

    private static Type arg(Type t, int k) {
        if (t instanceof ParameterizedType) return ((ParameterizedType) t).getActualTypeArguments()[k];
        return Object.class;
    }

    /** The parsed JSON value v as an instance of type t. */
    static Object convert(Object v, Type t) {
        Class<?> c = raw(t);
        if (v == null) {
            if (c.isPrimitive()) throw new MappingException("null for " + c.getName());
            return null;
        }
        if (c == Object.class) return v;
        if (c == String.class || c == CharSequence.class) return v instanceof String ? v : write(v);
        if (c == boolean.class || c == Boolean.class) {
            if (v instanceof Boolean) return v;
            if (v instanceof String) return Boolean.parseBoolean((String) v);
            if (v instanceof Number) return ((Number) v).doubleValue() != 0;
            throw mismatch(v, c);
        }
        if (c.isPrimitive() || Number.class.isAssignableFrom(c)) return number(v, c);
        if (c == char.class || c == Character.class) {
            if (v instanceof String && ((String) v).length() == 1) return ((String) v).charAt(0);
            throw mismatch(v, c);
        }
        if (c.isEnum()) {
            if (!(v instanceof String)) throw mismatch(v, c);
            for (Object e : c.getEnumConstants()) {
                if (((Enum<?>) e).name().equals(v)) return e;
            }
            throw new MappingException("\"" + v + "\" is not one of " + c.getName() + "'s values");
        }
        if (c == Date.class) {
            if (v instanceof Number) return new Date(((Number) v).longValue());
            if (v instanceof String) {
                try {
                    return Date.from(Instant.parse((String) v));
                } catch (RuntimeException e) {
                    throw new MappingException("cannot read \"" + v + "\" as a date: " + e.getMessage());
                }
            }
            throw mismatch(v, c);
        }
        if (c == byte[].class && v instanceof String) return base64(v);
        if (c == ByteBuffer.class && v instanceof String) return ByteBuffer.wrap(base64(v));
        if (Events.isDateTime(c) && (v instanceof String || v instanceof Number)) {
            return Events.parseDateTime(v instanceof String ? (String) v : write(v), c);
        }
        if (Map.class.isAssignableFrom(c)) {
            if (!(v instanceof Map)) throw mismatch(v, c);
            Map<Object, Object> m = newMap(c);
            Type kt = arg(t, 0), vt = arg(t, 1);
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                m.put(convert(e.getKey(), kt), convert(e.getValue(), vt));
            }
            return m;
        }
        if ((Collection.class.isAssignableFrom(c) || (c.isArray() && c != byte[].class)) && !(v instanceof List)) {
            v = java.util.Collections.singletonList(v);
        }
        if (Collection.class.isAssignableFrom(c)) {
            Collection<Object> out = newCollection(c);
            Type et = arg(t, 0);
            for (Object o : (List<?>) v) out.add(convert(o, et));
            return out;
        }
        if (c.isArray()) {
            if (!(v instanceof List)) throw mismatch(v, c);
            List<?> l = (List<?>) v;
            Type et = t instanceof GenericArrayType ? ((GenericArrayType) t).getGenericComponentType()
                    : c.getComponentType();
            Object arr = Array.newInstance(c.getComponentType(), l.size());
            for (int k = 0; k < l.size(); k++) Array.set(arr, k, convert(l.get(k), et));
            return arr;
        }
        if (c.isInstance(v)) return v;
        if ("".equals(v)) return null;
        if (!(v instanceof Map)) throw mismatch(v, c);
        return bean((Map<?, ?>) v, c);
    }

    private static byte[] base64(Object v) {
        try {
            return Base64.getDecoder().decode((String) v);
        } catch (IllegalArgumentException e) {
            throw new MappingException("cannot read a string as base64: " + e.getMessage());
        }
    }

    private static MappingException mismatch(Object v, Class<?> c) {
        String kind = v instanceof Map ? "an object" : v instanceof List ? "an array" : v instanceof String ? "a string"
                : v instanceof Number ? "a number" : "a " + v.getClass().getSimpleName().toLowerCase(Locale.ROOT);
        return new MappingException("cannot map " + kind + " to " + c.getName());
    }

    private static Object number(Object v, Class<?> c) {
        Number n;
        if (v instanceof Number) {
            n = (Number) v;
        } else if (v instanceof String) {
            try {
                n = new BigDecimal(((String) v).trim());
            } catch (NumberFormatException e) {
                throw new MappingException("cannot read \"" + v + "\" as " + c.getName());
            }
        } else {
            throw mismatch(v, c);
        }
        if (c == int.class || c == Integer.class) return n.intValue();
        if (c == long.class || c == Long.class) return n.longValue();
        if (c == double.class || c == Double.class) return n.doubleValue();
        if (c == float.class || c == Float.class) return n.floatValue();
        if (c == short.class || c == Short.class) return n.shortValue();
        if (c == byte.class || c == Byte.class) return n.byteValue();
        if (c == BigDecimal.class) return n instanceof BigDecimal ? n : new BigDecimal(n.toString());
        if (c == BigInteger.class) return new BigDecimal(n.toString()).toBigInteger();
        if (c == Number.class) return n;
        throw mismatch(v, c);
    }

    private static Date secondsDate(Number n) {
        double s = n.doubleValue();
        return s == 0.0 ? null : new Date((long) (s * 1000.0));
    }

    @SuppressWarnings("unchecked")
    private static Map<Object, Object> newMap(Class<?> c) {
        if (c.isInterface() || Modifier.isAbstract(c.getModifiers())) {
            return java.util.SortedMap.class.isAssignableFrom(c) ? new TreeMap<>() : new LinkedHashMap<>();
        }
        try {
            return (Map<Object, Object>) c.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            return new HashMap<>();
        }
    }

    @SuppressWarnings("unchecked")
    private static Collection<Object> newCollection(Class<?> c) {
        if (c.isInterface() || Modifier.isAbstract(c.getModifiers())) {
            if (java.util.SortedSet.class.isAssignableFrom(c)) return new java.util.TreeSet<>();
            return Set.class.isAssignableFrom(c) ? new LinkedHashSet<>() : new ArrayList<>();
        }
        try {
            return (Collection<Object>) c.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            return Set.class.isAssignableFrom(c) ? new HashSet<>() : new ArrayList<>();
        }
    }

    private static Object bean(Map<?, ?> json, Class<?> c) {
        if (Events.isS3(c)) return Events.readS3(json, c);
        boolean event = Events.supported(c);
        Object o;
        try {
            Constructor<?> k = c.getDeclaredConstructor();
            k.setAccessible(true);
            o = k.newInstance();
        } catch (NoSuchMethodException e) {
            throw new MappingException(c.getName() + " has no constructor without arguments");
        } catch (ReflectiveOperationException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new MappingException("cannot create " + c.getName() + ": " + cause);
        }
        // AWS's Jackson setup matches a POJO's keys case-sensitively; the events
        // classes' mixins name every field, which matching without case stands in for
        Map<String, Method> setters = new HashMap<>();
        for (Method m : c.getMethods()) {
            String n = m.getName();
            if (n.startsWith("set") && n.length() > 3 && m.getParameterCount() == 1
                    && !Modifier.isStatic(m.getModifiers())) {
                String prop = n.substring(3);
                setters.putIfAbsent(event ? prop.toLowerCase(Locale.ROOT) : beanName(prop), m);
            }
        }
        Map<String, Field> fields = new HashMap<>();
        for (Field f : c.getFields()) {
            if (!Modifier.isStatic(f.getModifiers()) && !Modifier.isFinal(f.getModifiers())) {
                fields.putIfAbsent(event ? f.getName().toLowerCase(Locale.ROOT) : f.getName(), f);
            }
        }
        for (Map.Entry<?, ?> e : json.entrySet()) {
            String key = event ? Events.property(c, String.valueOf(e.getKey())).toLowerCase(Locale.ROOT)
                               : String.valueOf(e.getKey());
            try {
                Method m = setters.get(key);
                if (m != null) {
                    m.setAccessible(true);
                    Type t = m.getGenericParameterTypes()[0];
                    Object x = e.getValue();
                    // AWS's events: a date is epoch seconds (0: none)
                    boolean seconds = event && t == Date.class && x instanceof Number;
                    m.invoke(o, seconds ? secondsDate((Number) x) : convert(x, t));
                    continue;
                }
                Field f = fields.get(key);
                if (f != null) f.set(o, convert(e.getValue(), f.getGenericType()));
            } catch (ReflectiveOperationException ex) {
                Throwable cause = ex.getCause() != null ? ex.getCause() : ex;
                throw new MappingException("cannot set " + e.getKey() + " on " + c.getName() + ": " + cause);
            }
        }
        return o;
    }
}
