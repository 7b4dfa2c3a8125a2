package lamina.runtime;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * lamina's Java runtime: a Lambda Runtime API client, JDK only.
 *
 * <p>Started as {@code java <AWS's flags> -cp lamina-java-runtime.jar lamina.runtime.Bootstrap --opt DIR}
 * with the environment AWS gives a function. Loads the function's classes from the task
 * root (classes at the root, lib/*.jar) and the layers' /opt/java/lib/*.jar, resolves
 * _HANDLER as AWS does ({@code package.Class::method} or {@code package.Class}, meaning
 * handleRequest), then loops: GET /invocation/next, call the handler, POST /response or
 * /error. Init failures are posted to /init/error.
 */
public final class Bootstrap {
    private Bootstrap() {}

    static final String TASK_ROOT = env("LAMBDA_TASK_ROOT", "/var/task");
    static String opt = "/opt";  // --opt DIR: where the layers are (/opt in a sandbox)
    static final boolean JSON_LOGS = "JSON".equalsIgnoreCase(env("AWS_LAMBDA_LOG_FORMAT", ""));
    static final String FUNCTION_NAME = env("AWS_LAMBDA_FUNCTION_NAME", "");
    static final String FUNCTION_VERSION = env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    static final int MEMORY_MB = Integer.parseInt(env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"));
    static final String LOG_GROUP = env("AWS_LAMBDA_LOG_GROUP_NAME", "");
    static final String LOG_STREAM = env("AWS_LAMBDA_LOG_STREAM_NAME", "");

    static volatile String requestId = "";
    static final PrintStream STDOUT = System.out;

    private static final Map<String, String> JSON_TYPE = Collections.singletonMap("Content-Type", "application/json");

    static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null ? fallback : v;
    }

    /** A handler, resolved once at init. */
    static final class Handler {
        Object instance;  // null for a static method
        Method method;
        Type inputType;  // null: the method takes no event
        boolean stream;  // (InputStream, OutputStream[, Context])
        boolean context;  // takes the Context last
    }

    /** An init or invoke failure whose payload is fixed (not an exception of the function's). */
    static final class Failure extends Exception {
        private static final long serialVersionUID = 1L;
        final String type;

        Failure(String type, String message) {
            super(message);
            this.type = type;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length >= 2 && args[0].equals("--opt")) opt = args[1];
        java.lang.reflect.Field shared = LambdaRuntime.class.getDeclaredField("logger");
        shared.setAccessible(true);
        shared.set(null, Logger.INSTANCE);  // LambdaRuntime.getLogger(): the same records
        RuntimeApi api = new RuntimeApi(env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"));
        Handler handler;
        try {
            handler = load(env("_HANDLER", ""));
        } catch (Failure f) {
            initError(api, errorBody(f.type, f.getMessage(), null), f.type);
            return;
        } catch (Throwable t) {
            Throwable e = unwrap(t);
            initError(api, errorPayload(e), e.getClass().getName());
            return;
        }
        if ("snap-start".equals(env("AWS_LAMBDA_INITIALIZATION_TYPE", ""))) {
            SnapStart.checkpointAndRestore(api);
        }
        loop(api, handler);
    }

    // ---- handler resolution ------------------------------------------------------------

    static ClassLoader functionLoader() throws Exception {
        List<URL> urls = new ArrayList<>();
        urls.add(new File(TASK_ROOT).toURI().toURL());
        addJars(urls, new File(TASK_ROOT, "lib"));
        addJars(urls, new File(opt, "java/lib"));
        ClassLoader loader = new URLClassLoader(urls.toArray(new URL[0]), Bootstrap.class.getClassLoader());
        Thread.currentThread().setContextClassLoader(loader);
        return loader;
    }

    private static void addJars(List<URL> urls, File dir) throws Exception {
        File[] files = dir.listFiles((d, n) -> n.endsWith(".jar"));
        if (files == null) return;
        Arrays.sort(files);
        for (File f : files) urls.add(f.toURI().toURL());
    }

    static Handler load(String name) throws Throwable {
        String className = name, methodName = "handleRequest";
        int sep = name.indexOf("::");
        if (sep >= 0) {
            className = name.substring(0, sep);
            methodName = name.substring(sep + 2);
        }
        if (className.isEmpty() || methodName.isEmpty()) {
            throw new Failure("java.lang.IllegalArgumentException", "Invalid handler '" + name + "'");
        }
        ClassLoader loader = functionLoader();
        Class<?> cls;
        try {
            cls = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            throw new Failure("java.lang.ClassNotFoundException", "Class not found: " + className);
        } catch (ExceptionInInitializerError e) {
            throw e.getCause() != null ? e.getCause() : e;
        }
        Handler h = new Handler();
        h.method = pick(cls, methodName);
        if (h.method == null) {
            throw new Failure("java.lang.NoSuchMethodException", "No public method named " + methodName
                    + " with appropriate method signature found on class " + cls.getName());
        }
        Class<?>[] p = h.method.getParameterTypes();
        Type[] g = h.method.getGenericParameterTypes();
        h.context = p.length > 0 && p[p.length - 1] == Context.class;
        int events = p.length - (h.context ? 1 : 0);
        h.stream = events == 2;
        if (events >= 1 && !h.stream) h.inputType = resolve(g[0], cls);
        if (!Modifier.isStatic(h.method.getModifiers())) {
            try {
                java.lang.reflect.Constructor<?> k = cls.getDeclaredConstructor();
                k.setAccessible(true);
                h.instance = k.newInstance();
            } catch (NoSuchMethodException e) {
                throw new Failure("java.lang.NoSuchMethodException", "Class " + cls.getName()
                        + " has no public zero-argument constructor");
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }
        h.method.setAccessible(true);
        return h;
    }

    /** A type variable (a generic base class's T) as the handler's class binds it. */
    static Type resolve(Type t, Class<?> cls) {
        Map<TypeVariable<?>, Type> bound = new HashMap<>();
        bindings(cls, bound, 0);
        for (int guard = 0; t instanceof TypeVariable && bound.containsKey(t) && guard < 32; guard++) {
            t = bound.get(t);
        }
        return t;
    }

    private static void bindings(Type type, Map<TypeVariable<?>, Type> bound, int depth) {
        Class<?> raw = Mapper.raw(type);
        if (raw == Object.class || depth > 32) return;
        if (type instanceof ParameterizedType) {
            TypeVariable<?>[] vars = raw.getTypeParameters();
            Type[] args = ((ParameterizedType) type).getActualTypeArguments();
            for (int k = 0; k < vars.length && k < args.length; k++) bound.put(vars[k], args[k]);
        }
        if (raw.getGenericSuperclass() != null) bindings(raw.getGenericSuperclass(), bound, depth + 1);
        for (Type i : raw.getGenericInterfaces()) bindings(i, bound, depth + 1);
    }

    /**
     * The method a handler names, as AWS chooses it: the RequestHandler or
     * RequestStreamHandler method when the class implements one and the name is
     * handleRequest; otherwise among the public methods of that name with a
     * supported signature, the one with the most parameters, Context last preferred.
     */
    static Method pick(Class<?> cls, String name) {
        List<Method> candidates = new ArrayList<>();
        for (Method m : cls.getMethods()) {
            if (!m.getName().equals(name) || m.isBridge() || m.isSynthetic()) continue;
            if (supported(m.getParameterTypes())) candidates.add(m);
        }
        if (candidates.isEmpty()) return null;
        if (name.equals("handleRequest")) {
            boolean streamHandler = RequestStreamHandler.class.isAssignableFrom(cls);
            boolean requestHandler = RequestHandler.class.isAssignableFrom(cls);
            for (Method m : candidates) {
                Class<?>[] p = m.getParameterTypes();
                if (streamHandler && p.length == 3 && p[0] == InputStream.class) return m;
                if (requestHandler && !streamHandler && p.length == 2 && p[1] == Context.class) return m;
            }
        }
        candidates.sort((a, b) -> {
            if (a.getParameterCount() != b.getParameterCount()) return b.getParameterCount() - a.getParameterCount();
            return Boolean.compare(lastIsContext(b), lastIsContext(a));
        });
        return candidates.get(0);
    }

    private static boolean lastIsContext(Method m) {
        Class<?>[] p = m.getParameterTypes();
        return p.length > 0 && p[p.length - 1] == Context.class;
    }

    private static boolean supported(Class<?>[] p) {
        int n = p.length;
        if (n > 0 && p[n - 1] == Context.class) n--;
        if (n == 2) return p[0] == InputStream.class && p[1] == OutputStream.class;
        return n <= 1 && p.length <= 2;
    }

    // ---- the invocation loop -----------------------------------------------------------

    static void loop(RuntimeApi api, Handler h) throws Exception {
        while (true) {
            RuntimeApi.Response next = api.request("GET", "/invocation/next", null, null);
            if (next.status != 200) {
                Thread.sleep(10);
                continue;
            }
            String id = next.headers.getOrDefault("lambda-runtime-aws-request-id", "");
            requestId = id;
            String trace = next.headers.get("lambda-runtime-trace-id");
            if (trace != null) {
                System.setProperty("com.amazonaws.xray.traceHeader", trace);
            } else {
                System.clearProperty("com.amazonaws.xray.traceHeader");
            }
            byte[] result;
            try {
                result = invoke(h, next);
            } catch (Throwable t) {
                Throwable e = unwrap(t);
                Map<String, Object> body = errorPayload(e);
                logError(e, body);
                flushOutput();
                Map<String, String> headers = new HashMap<>(JSON_TYPE);
                headers.put("Lambda-Runtime-Function-Error-Type", "Unhandled");
                api.request("POST", "/invocation/" + id + "/error",
                        Mapper.write(body).getBytes(StandardCharsets.UTF_8), headers);
                // as AWS's runtime: after an OutOfMemoryError (any VirtualMachineError) or an
                // IOError the JVM is not trusted with another event; the loop ends, the next
                // invocation gets a new environment
                if (e instanceof VirtualMachineError || e instanceof java.io.IOError) return;
                continue;
            }
            flushOutput();
            api.request("POST", "/invocation/" + id + "/response", result, JSON_TYPE);
        }
    }

    static void flushOutput() {
        System.out.flush();
        System.err.flush();
    }

    static byte[] invoke(Handler h, RuntimeApi.Response next) throws Throwable {
        LambdaContext context = new LambdaContext(next.headers);
        List<Object> args = new ArrayList<>(3);
        ByteArrayOutputStream output = null;
        if (h.stream) {
            output = new ByteArrayOutputStream();
            args.add(new ByteArrayInputStream(next.body));
            args.add(output);
        } else if (h.inputType != null) {
            args.add(input(next.body, h.inputType));
        }
        if (h.context) args.add(context);
        Object result;
        try {
            result = h.method.invoke(h.instance, args.toArray());
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
        if (h.stream) return output.toByteArray();
        if (h.method.getReturnType() == void.class) return "null".getBytes(StandardCharsets.UTF_8);
        if (result instanceof OutputStream || result instanceof InputStream) {
            throw new RuntimeException("An error occurred during JSON serialization of response");
        }
        try {
            return Mapper.write(result).getBytes(StandardCharsets.UTF_8);
        } catch (RuntimeException e) {
            throw new RuntimeException("An error occurred during JSON serialization of response", e);
        }
    }

    private static Object input(byte[] body, Type type) {
        Class<?> raw = Mapper.raw(type);
        if (raw == InputStream.class) return new ByteArrayInputStream(body);
        if (raw == byte[].class) return body;
        String text = new String(body, StandardCharsets.UTF_8);
        try {
            Object parsed;
            try {
                parsed = text.isEmpty() ? null : Json.parse(text);
            } catch (IllegalArgumentException e) {
                if (raw == String.class || raw == CharSequence.class) return text;
                throw e;
            }
            return Mapper.convert(parsed, type);
        } catch (RuntimeException e) {
            // AWS's shape: the runtime's exception, no frames, the reader's failure as its cause
            throw parsingFailure(e.getMessage());
        }
    }

    static RuntimeException parsingFailure(String message) {
        RuntimeException e = new RuntimeException("An error occurred during JSON parsing",
                new java.io.UncheckedIOException(new java.io.IOException(message)));
        for (Throwable t = e; t != null; t = t.getCause()) t.setStackTrace(new StackTraceElement[0]);
        return e;
    }

    // ---- errors ------------------------------------------------------------------------

    static Throwable unwrap(Throwable t) {
        while ((t instanceof InvocationTargetException || t instanceof ExceptionInInitializerError)
                && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** AWS's payload: errorMessage, errorType (the class name), stackTrace, and the cause nested. */
    static Map<String, Object> errorPayload(Throwable e) {
        Map<String, Object> body = errorBody(e.getClass().getName(), e.getMessage(), stackTrace(e));
        Throwable cause = e.getCause();
        if (cause != null && cause != e) body.put("cause", errorPayload(cause));
        return body;
    }

    static Map<String, Object> errorBody(String type, String message, List<String> trace) {
        Map<String, Object> body = new LinkedHashMap<>();
        if (message != null) body.put("errorMessage", message);
        body.put("errorType", type);
        body.put("stackTrace", trace == null ? Collections.emptyList() : trace);
        return body;
    }

    /** The frames as StackTraceElement prints them, down to the first of this runtime's own. */
    static List<String> stackTrace(Throwable e) {
        List<String> out = new ArrayList<>();
        for (StackTraceElement f : e.getStackTrace()) {
            if (f.getClassName().startsWith("lamina.runtime.")) break;
            out.add(f.toString());
        }
        return out;
    }

    static void logError(Throwable e, Map<String, Object> body) {
        if (JSON_LOGS) {
            Map<String, Object> record = new LinkedHashMap<>();
            record.put("timestamp", Instant.now().toString());
            record.put("level", "ERROR");
            record.put("message", body);
            record.put("AWSRequestId", requestId);
            STDOUT.println(Mapper.write(record));
        } else {
            e.printStackTrace();
        }
    }

    static void initError(RuntimeApi api, Map<String, Object> body, String type) throws Exception {
        if (JSON_LOGS) {
            Map<String, Object> record = new LinkedHashMap<>();
            record.put("timestamp", Instant.now().toString());
            record.put("level", "ERROR");
            record.put("message", body);
            STDOUT.println(Mapper.write(record));
        } else {
            System.err.println("Error: " + body.getOrDefault("errorMessage", "") + ": " + type);
        }
        flushOutput();
        Map<String, String> headers = new HashMap<>(JSON_TYPE);
        headers.put("Lambda-Runtime-Function-Error-Type", type);
        api.request("POST", "/init/error", Mapper.write(body).getBytes(StandardCharsets.UTF_8), headers);
        System.exit(1);
    }

    // ---- the context -------------------------------------------------------------------

    /**
     * LambdaLogger: each call one record in the log stream. In JSON log format a
     * record is AWS's object (timestamp, level, message, AWSRequestId) and records
     * below AWS_LAMBDA_LOG_LEVEL are dropped; in text the message as it is.
     */
    static final class Logger implements LambdaLogger {
        static final Logger INSTANCE = new Logger();
        static final LogLevel MINIMUM = LogLevel.fromString(env("AWS_LAMBDA_LOG_LEVEL", "INFO"));

        @Override
        public void log(String message) {
            log(message, LogLevel.UNDEFINED);
        }

        @Override
        public void log(byte[] message) {
            log(new String(message, StandardCharsets.UTF_8), LogLevel.UNDEFINED);
        }

        @Override
        public void log(byte[] message, LogLevel level) {
            log(new String(message, StandardCharsets.UTF_8), level);
        }

        @Override
        public void log(String message, LogLevel level) {
            if (message == null) message = "null";
            if (JSON_LOGS && level != LogLevel.UNDEFINED && level.ordinal() < MINIMUM.ordinal()) return;
            synchronized (STDOUT) {
                if (JSON_LOGS) {
                    Map<String, Object> record = new LinkedHashMap<>();
                    record.put("timestamp", Instant.now().toString());
                    if (level != LogLevel.UNDEFINED) record.put("level", level.name());
                    record.put("message", message);
                    record.put("AWSRequestId", requestId);
                    STDOUT.println(Mapper.write(record));
                } else {
                    STDOUT.print(message.endsWith("\n") ? message : message + "\n");
                }
                STDOUT.flush();
            }
        }
    }

    static Map<String, Object> jsonHeader(String value) {
        if (value == null || value.isEmpty()) return null;
        // header bytes were read as ISO-8859-1: back to bytes, for UTF-8
        Object v = Json.parse(new String(value.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8));
        @SuppressWarnings("unchecked")
        Map<String, Object> m = v instanceof Map ? (Map<String, Object>) v : null;
        return m;
    }

    static String str(Map<String, Object> m, String key) {
        Object v = m == null ? null : m.get(key);
        return v == null ? null : v instanceof String ? (String) v : Mapper.write(v);
    }

    static Map<String, String> strings(Object v) {
        if (!(v instanceof Map)) return null;
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
            Object x = e.getValue();
            out.put(String.valueOf(e.getKey()), x == null ? null : x instanceof String ? (String) x : Mapper.write(x));
        }
        return out;
    }

    static final class LambdaContext implements Context {
        private final String requestId;
        private final String arn;
        private final long deadline;
        private final CognitoIdentity identity;
        private final ClientContext clientContext;
        private final String tenantId;  // tenant isolation (null for other functions)

        LambdaContext(Map<String, String> h) {
            requestId = h.getOrDefault("lambda-runtime-aws-request-id", "");
            tenantId = h.get("lambda-runtime-aws-tenant-id");
            arn = h.getOrDefault("lambda-runtime-invoked-function-arn", "");
            long d = 0;
            try {
                d = Long.parseLong(h.getOrDefault("lambda-runtime-deadline-ms", "0"));
            } catch (NumberFormatException ignored) {
                // no deadline
            }
            deadline = d;
            Map<String, Object> cognito = jsonHeader(h.get("lambda-runtime-cognito-identity"));
            String identityId = str(cognito, "cognitoIdentityId"), poolId = str(cognito, "cognitoIdentityPoolId");
            identity = new CognitoIdentity() {
                @Override
                public String getIdentityId() {
                    return identityId;
                }

                @Override
                public String getIdentityPoolId() {
                    return poolId;
                }
            };
            Map<String, Object> cc = jsonHeader(h.get("lambda-runtime-client-context"));
            clientContext = cc == null ? null : clientContext(cc);
        }

        private static ClientContext clientContext(Map<String, Object> cc) {
            @SuppressWarnings("unchecked")
            Map<String, Object> c = cc.get("client") instanceof Map ? (Map<String, Object>) cc.get("client") : null;
            Client client = c == null ? null : new Client() {
                @Override
                public String getInstallationId() {
                    return str(c, "installation_id");
                }

                @Override
                public String getAppTitle() {
                    return str(c, "app_title");
                }

                @Override
                public String getAppVersionName() {
                    return str(c, "app_version_name");
                }

                @Override
                public String getAppVersionCode() {
                    return str(c, "app_version_code");
                }

                @Override
                public String getAppPackageName() {
                    return str(c, "app_package_name");
                }
            };
            Map<String, String> custom = strings(cc.get("custom")), environment = strings(cc.get("env"));
            return new ClientContext() {
                @Override
                public Client getClient() {
                    return client;
                }

                @Override
                public Map<String, String> getCustom() {
                    return custom;
                }

                @Override
                public Map<String, String> getEnvironment() {
                    return environment;
                }
            };
        }

        @Override
        public String getAwsRequestId() {
            return requestId;
        }

        @Override
        public String getLogGroupName() {
            return LOG_GROUP;
        }

        @Override
        public String getLogStreamName() {
            return LOG_STREAM;
        }

        @Override
        public String getFunctionName() {
            return FUNCTION_NAME;
        }

        @Override
        public String getFunctionVersion() {
            return FUNCTION_VERSION;
        }

        @Override
        public String getInvokedFunctionArn() {
            return arn;
        }

        @Override
        public CognitoIdentity getIdentity() {
            return identity;
        }

        @Override
        public ClientContext getClientContext() {
            return clientContext;
        }

        @Override
        public String getTenantId() {
            return tenantId;
        }

        @Override
        public int getRemainingTimeInMillis() {
            return (int) Math.max(0, deadline - System.currentTimeMillis());
        }

        @Override
        public int getMemoryLimitInMB() {
            return MEMORY_MB;
        }

        @Override
        public LambdaLogger getLogger() {
            return Logger.INSTANCE;
        }
    }
}
