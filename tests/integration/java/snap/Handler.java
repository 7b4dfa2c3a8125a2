package snap;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.crac.Core;
import org.crac.Resource;

/** SnapStart on Java: values made at init, org.crac hooks, failures on demand (marker files). */
public class Handler implements RequestHandler<Map<String, Object>, Map<String, Object>>, Resource {
    static final long SEED = new Random().nextLong();  // made at init: every restore sees it
    static final String INIT_ID = UUID.randomUUID().toString();
    static final List<String> BEFORE = Collections.synchronizedList(new ArrayList<>());
    static final List<String> AFTER = Collections.synchronizedList(new ArrayList<>());
    static volatile String restoreId = "";  // made by afterRestore: one per restored environment
    static final File TASK = new File(System.getenv("LAMBDA_TASK_ROOT"));

    private final Second second = new Second();

    public Handler() {
        Core.getGlobalContext().register(this);
        Core.getGlobalContext().register(second);
    }

    @Override
    public void beforeCheckpoint(org.crac.Context<? extends Resource> context) {
        BEFORE.add("handler");
        System.out.println("BEFORE-CHECKPOINT handler");
        if (new File(TASK, "fail_before").exists()) {
            throw new IllegalStateException("beforeCheckpoint failed on purpose");
        }
    }

    @Override
    public void afterRestore(org.crac.Context<? extends Resource> context) {
        AFTER.add("handler");
        restoreId = UUID.randomUUID().toString();
        System.out.println("AFTER-RESTORE handler");
        if (new File(TASK, "fail_after").exists()) {
            throw new IllegalStateException("afterRestore failed on purpose");
        }
    }

    static final class Second implements Resource {
        @Override
        public void beforeCheckpoint(org.crac.Context<? extends Resource> context) {
            BEFORE.add("second");
        }

        @Override
        public void afterRestore(org.crac.Context<? extends Resource> context) {
            AFTER.add("second");
        }
    }

    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        Object sleep = event.get("sleep_ms");
        if (sleep instanceof Number) {
            try {
                Thread.sleep(((Number) sleep).longValue());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Object mb = event.get("alloc_mb");  // held until the answer: may run the heap out
        List<byte[]> held = new ArrayList<>();
        for (int i = 0; mb instanceof Number && i < ((Number) mb).intValue(); i++) {
            held.add(new byte[1 << 20]);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("allocated_mb", held.size());
        Object until = event.get("until");
        if (until instanceof String) out.put("events_json", telemetryUntil((String) until));
        out.put("seed", String.valueOf(SEED));
        out.put("init_id", INIT_ID);
        out.put("restore_id", restoreId);
        out.put("before", new ArrayList<>(BEFORE));
        out.put("after", new ArrayList<>(AFTER));
        out.put("init_type", System.getenv("AWS_LAMBDA_INITIALIZATION_TYPE"));
        out.put("request_id", context.getAwsRequestId());
        String[] tmp = new File("/tmp").list();
        out.put("tmp", tmp == null ? new ArrayList<String>() : java.util.Arrays.asList(tmp));
        return out;
    }

    /** What the layer's Telemetry API subscriber (snapstart_lib.TELTAP) wrote to
     * $TMPDIR/teltap-events.json, once it holds a record of the type asked for (10 s at most). */
    static String telemetryUntil(String type) {
        File file = new File(System.getenv().getOrDefault("TMPDIR", "/tmp"), "teltap-events.json");
        long deadline = System.currentTimeMillis() + 10_000;
        while (true) {
            String text;
            try {
                text = new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8);
            } catch (IOException e) {
                text = "[]";
            }
            if (text.contains("\"" + type + "\"") || System.currentTimeMillis() > deadline) {
                return text;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return text;
            }
        }
    }
}
