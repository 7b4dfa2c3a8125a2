package lamina.runtime;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What AWS's Java runtime does specially for the aws-lambda-java-events classes, which a
 * function bundles (its zip's lib/ or an uber-jar) and the runtime finds by class name:
 * JSON names that are not the bean's (SQSEvent's "Records" and "eventSourceARN",
 * SNSEvent's "Sns" and its PascalCase names, ScheduledEvent's "detail-type"),
 * java.util.Date as epoch seconds inside those events, and the S3 notification classes,
 * which have no setters: built through their constructors and written field by field,
 * as AWS's S3 serializer does. Joda-Time's DateTime (the events' timestamps) is read with
 * its static parse(String) and written with toString(), ISO 8601 with milliseconds.
 */
final class Events {
    private Events() {}

    static final String PKG = "com.amazonaws.services.lambda.runtime.events.";
    private static final String S3_V3 = PKG + "models.s3.S3EventNotification";
    private static final String S3_V2 = "com.amazonaws.services.s3.event.S3EventNotification";

    /** The events AWS's runtime serializes with its own rules (its LambdaEventSerializers list). */
    private static final List<String> SUPPORTED = Arrays.asList("APIGatewayProxyRequestEvent",
            "APIGatewayProxyResponseEvent", "CloudFormationCustomResourceEvent", "CloudFrontEvent",
            "CloudWatchLogsEvent", "CodeCommitEvent", "CognitoEvent", "ConfigEvent", "ConnectEvent", "DynamodbEvent",
            "DynamodbTimeWindowEvent", "IoTButtonEvent", "KinesisEvent", "KinesisTimeWindowEvent",
            "KinesisFirehoseEvent", "LambdaDestinationEvent", "LexEvent", "ScheduledEvent",
            "SecretsManagerRotationEvent", "S3Event", "SNSEvent", "SQSEvent");

    /** Per class: JSON name -> bean property, where they differ by more than case (AWS's mixins). */
    private static final Map<String, Map<String, String>> RENAMES = new HashMap<>();

    static {
        RENAMES.put(PKG + "SQSEvent", Collections.singletonMap("Records", "records"));
        RENAMES.put(PKG + "SQSEvent$SQSMessage", Collections.singletonMap("eventSourceARN", "eventSourceArn"));
        RENAMES.put(PKG + "SNSEvent", Collections.singletonMap("Records", "records"));
        RENAMES.put(PKG + "SNSEvent$SNSRecord", Collections.singletonMap("Sns", "sns"));
        RENAMES.put(PKG + "ScheduledEvent", Collections.singletonMap("detail-type", "detailType"));
        RENAMES.put(PKG + "KinesisEvent", Collections.singletonMap("Records", "records"));
        RENAMES.put(PKG + "KinesisEvent$KinesisEventRecord",
                Collections.singletonMap("eventSourceARN", "eventSourceArn"));
        RENAMES.put(PKG + "DynamodbEvent", Collections.singletonMap("Records", "records"));
        RENAMES.put(PKG + "DynamodbEvent$DynamodbStreamRecord",
                Collections.singletonMap("eventSourceARN", "eventSourceArn"));
    }

    /** c is one of AWS's supported events, a class nested in one, or one of the events' models. */
    static boolean supported(Class<?> c) {
        String n = c.getName();
        if (!n.startsWith(PKG)) return n.startsWith(S3_V2);
        if (n.startsWith(PKG + "models.")) return true;
        String simple = n.substring(PKG.length());
        int nested = simple.indexOf('$');
        return SUPPORTED.contains(nested < 0 ? simple : simple.substring(0, nested));
    }

    /** The bean property a JSON key names in class c (lower-cased), as AWS's mixins rename it. */
    static String property(Class<?> c, String jsonKey) {
        Map<String, String> r = RENAMES.get(c.getName());
        String p = r == null ? null : r.get(jsonKey);
        return p != null ? p : jsonKey;
    }

    /** The JSON name bean property p of class c is written under. */
    static String jsonName(Class<?> c, String p) {
        Map<String, String> r = RENAMES.get(c.getName());
        if (r != null) {
            for (Map.Entry<String, String> e : r.entrySet()) {
                if (e.getValue().equalsIgnoreCase(p)) return e.getKey();
            }
        }
        // SNSEvent's mapper names everything in PascalCase
        if (c.getName().startsWith(PKG + "SNSEvent") && !p.isEmpty()) {
            return Character.toUpperCase(p.charAt(0)) + p.substring(1);
        }
        return p;
    }

    // ---- Joda-Time ------------------------------------------------------------------------

    static boolean isDateTime(Class<?> c) {
        return c.getName().equals("org.joda.time.DateTime");
    }

    static Object parseDateTime(String text, Class<?> c) {
        try {
            return c.getMethod("parse", String.class).invoke(null, text);
        } catch (ReflectiveOperationException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new Mapper.MappingException("cannot read \"" + text + "\" as a DateTime: " + cause.getMessage());
        }
    }

    // ---- S3 notifications ---------------------------------------------------------------------

    static boolean isS3(Class<?> c) {
        String n = c.getName();
        return n.equals(PKG + "S3Event") || n.equals(S3_V3) || n.equals(S3_V2);
    }

    /** json (the notification's object) as event class c, built as AWS's S3 serializer builds it. */
    static Object readS3(Map<?, ?> json, Class<?> c) {
        ClassLoader loader = c.getClassLoader();
        String base;
        Class<?> record;
        try {
            base = S3_V3;
            record = Class.forName(base + "$S3EventNotificationRecord", false, loader);
        } catch (ClassNotFoundException e) {
            base = S3_V2;
            record = load(base + "$S3EventNotificationRecord", loader);
        }
        Class<?> entity = load(base + "$S3Entity", loader), bucket = load(base + "$S3BucketEntity", loader);
        Class<?> object = load(base + "$S3ObjectEntity", loader), identity = load(base + "$UserIdentityEntity", loader);
        Class<?> request = load(base + "$RequestParametersEntity", loader);
        Class<?> response = load(base + "$ResponseElementsEntity", loader);
        List<Object> records = new ArrayList<>();
        Object list = json.get("Records");
        if (list instanceof List) {
            for (Object item : (List<?>) list) {
                Map<?, ?> r = object(item);
                Map<?, ?> s3 = object(r.get("s3")), b = object(s3.get("bucket")), o = object(s3.get("object"));
                Object owner = build(identity, new Class<?>[] {String.class}, str(object(b.get("ownerIdentity")),
                        "principalId"));
                Object bucketValue = build(bucket, new Class<?>[] {String.class, identity, String.class},
                        str(b, "name"), owner, str(b, "arn"));
                Object objectValue = s3Object(object, o);
                Object s3Value = build(entity, new Class<?>[] {String.class, bucket, object, String.class},
                        str(s3, "configurationId"), bucketValue, objectValue, str(s3, "s3SchemaVersion"));
                Map<?, ?> rp = object(r.get("requestParameters")), re = object(r.get("responseElements"));
                records.add(build(record, new Class<?>[] {String.class, String.class, String.class, String.class,
                    String.class, request, response, entity, identity},
                        str(r, "awsRegion"), str(r, "eventName"), str(r, "eventSource"), str(r, "eventTime"),
                        str(r, "eventVersion"), build(request, new Class<?>[] {String.class}, str(rp, "sourceIPAddress")),
                        build(response, new Class<?>[] {String.class, String.class}, str(re, "x-amz-id-2"),
                                str(re, "x-amz-request-id")),
                        s3Value, build(identity, new Class<?>[] {String.class},
                                str(object(r.get("userIdentity")), "principalId"))));
            }
        }
        return build(c, new Class<?>[] {List.class}, records);
    }

    private static Object s3Object(Class<?> object, Map<?, ?> o) {
        Object size = o.get("size");
        long n = 0;
        if (size instanceof Number) {
            n = ((Number) size).longValue();
        } else if (size instanceof String) {
            try {
                n = Long.parseLong(((String) size).trim());
            } catch (NumberFormatException e) {
                n = 0;
            }
        }
        try {
            object.getDeclaredConstructor(String.class, Long.class, String.class, String.class, String.class);
            return build(object, new Class<?>[] {String.class, Long.class, String.class, String.class, String.class},
                    str(o, "key"), n, str(o, "eTag"), str(o, "versionId"), str(o, "sequencer"));
        } catch (NoSuchMethodException e) {  // the SDK's older class: no sequencer
            return build(object, new Class<?>[] {String.class, Long.class, String.class, String.class},
                    str(o, "key"), n, str(o, "eTag"), str(o, "versionId"));
        }
    }

    /** The S3 event v as AWS's S3 serializer writes it (null members left out). */
    static Map<String, Object> writeS3(Object v) {
        List<Object> records = new ArrayList<>();
        Object list = get(v, "getRecords");
        if (list instanceof List) {
            for (Object r : (List<?>) list) {
                Map<String, Object> m = new LinkedHashMap<>();
                put(m, "awsRegion", get(r, "getAwsRegion"));
                put(m, "eventName", get(r, "getEventName"));
                put(m, "eventSource", get(r, "getEventSource"));
                Object time = get(r, "getEventTime");
                put(m, "eventTime", time == null ? null : time.toString());
                put(m, "eventVersion", get(r, "getEventVersion"));
                put(m, "requestParameters", fields(get(r, "getRequestParameters"), "sourceIPAddress",
                        "getSourceIPAddress"));
                put(m, "responseElements", fields(get(r, "getResponseElements"), "x-amz-id-2", "getxAmzId2",
                        "x-amz-request-id", "getxAmzRequestId"));
                Object s3 = get(r, "getS3");
                if (s3 != null) {
                    Map<String, Object> e = new LinkedHashMap<>();
                    put(e, "configurationId", get(s3, "getConfigurationId"));
                    Object b = get(s3, "getBucket");
                    if (b != null) {
                        Map<String, Object> bm = fields(b, "name", "getName", "arn", "getArn");
                        put(bm, "ownerIdentity", fields(get(b, "getOwnerIdentity"), "principalId", "getPrincipalId"));
                        e.put("bucket", bm);
                    }
                    put(e, "object", fields(get(s3, "getObject"), "key", "getKey", "size", "getSizeAsLong", "eTag",
                            "geteTag", "versionId", "getVersionId", "urlDecodedKey", "getUrlDecodedKey", "sequencer",
                            "getSequencer"));
                    put(e, "s3SchemaVersion", get(s3, "getS3SchemaVersion"));
                    m.put("s3", e);
                }
                put(m, "userIdentity", fields(get(r, "getUserIdentity"), "principalId", "getPrincipalId"));
                records.add(m);
            }
        }
        return Collections.singletonMap("Records", records);
    }

    private static Map<String, Object> fields(Object o, String... nameAndGetter) {
        if (o == null) return null;
        Map<String, Object> m = new LinkedHashMap<>();
        for (int k = 0; k + 1 < nameAndGetter.length; k += 2) put(m, nameAndGetter[k], get(o, nameAndGetter[k + 1]));
        return m;
    }

    private static void put(Map<String, Object> m, String k, Object v) {
        if (v != null) m.put(k, v);
    }

    private static Object get(Object o, String getter) {
        if (o == null) return null;
        try {
            Method m = o.getClass().getMethod(getter);
            m.setAccessible(true);
            return m.invoke(o);
        } catch (NoSuchMethodException e) {
            return null;  // an older model without it (urlDecodedKey, sequencer)
        } catch (ReflectiveOperationException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new Mapper.MappingException(getter + " of " + o.getClass().getName() + " failed: " + cause);
        }
    }

    private static Map<?, ?> object(Object v) {
        return v instanceof Map ? (Map<?, ?>) v : Collections.emptyMap();
    }

    /** org.json's optString, as AWS reads S3 members: "" when missing or null. */
    private static String str(Map<?, ?> m, String key) {
        Object v = m.get(key);
        return v == null ? "" : v instanceof String ? (String) v : Mapper.write(v);
    }

    private static Class<?> load(String name, ClassLoader loader) {
        try {
            return Class.forName(name, false, loader);
        } catch (ClassNotFoundException e) {
            throw new Mapper.MappingException("the S3 event classes are incomplete: no " + name);
        }
    }

    private static Object build(Class<?> c, Class<?>[] types, Object... args) {
        try {
            Constructor<?> k = c.getDeclaredConstructor(types);
            k.setAccessible(true);
            return k.newInstance(args);
        } catch (NoSuchMethodException e) {
            throw new Mapper.MappingException(c.getName() + " has no constructor " + Arrays.toString(types));
        } catch (ReflectiveOperationException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new Mapper.MappingException("cannot create " + c.getName() + ": " + cause);
        }
    }
}
