package lamina.runtime;

import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.crac.CheckpointException;
import org.crac.Core;
import org.crac.RestoreException;

/**
 * SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start) on a JVM: after the
 * init, the org.crac resources' beforeCheckpoint run, then GET /restore/next
 * answered with Lamina-Restore-Checkpoint: this runtime closes its connection
 * and waits on stdin, and lamina checkpoints the process (criu). Each restored
 * environment continues from there: its order (its own Runtime API, the
 * layers' extensions to start) arrives on its stdin, then it calls
 * /restore/next on its Runtime API and runs the afterRestore hooks.
 */
final class SnapStart {
    private SnapStart() {}

    static void checkpointAndRestore(RuntimeApi api) throws Exception {
        try {
            Core.getGlobalContext().beforeCheckpoint(null);
        } catch (CheckpointException e) {
            hookFailed(api, "/init/error", "Runtime.BeforeSnapshotError", e, 64);
        }
        Bootstrap.flushOutput();
        Map<String, String> headers = new HashMap<>();
        headers.put("Lamina-Restore-Pid", String.valueOf(ProcessHandle.current().pid()));
        headers.put("Lamina-Restore-Checkpoint", "1");
        RuntimeApi.Response r;
        while (true) {
            r = api.request("GET", "/restore/next", null, headers);
            if (r.status == 200) break;
            Thread.sleep(10);
        }
        api.close();  // no connection of the snapshot's crosses into a restored environment
        if (r.headers.get("lamina-restore-checkpoint") != null) {
            // lamina checkpoints this process now; a restore carries on here
            String order = readLine(new FileInputStream(FileDescriptor.in));
            if (order == null) System.exit(0);  // the snapshot was dropped before it was taken
            Object parsed = Json.parse(order);
            if (!(parsed instanceof Map)) System.exit(1);
            Map<?, ?> o = (Map<?, ?>) parsed;
            api.retarget(String.valueOf(o.get("address")));
            api.request("GET", "/restore/next", null, null);
            Object extensions = o.get("extensions");
            if (extensions instanceof List && !((List<?>) extensions).isEmpty()) {
                // the layers' extensions start here, during this environment's restore
                List<String> command = new ArrayList<>();
                for (Object part : (List<?>) extensions) command.add(String.valueOf(part));
                command.add("true");
                ProcessBuilder launch = new ProcessBuilder(command).inheritIO()
                        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
                // they register with this environment's Runtime API, not the snapshot's
                launch.environment().put("AWS_LAMBDA_RUNTIME_API", String.valueOf(o.get("address")));
                launch.start().waitFor();
            }
        }
        try {
            Core.getGlobalContext().afterRestore(null);
        } catch (RestoreException e) {
            hookFailed(api, "/restore/error", "Runtime.AfterRestoreError", e, 65);
        }
    }

    /** Posts a hook's failure (the first resource's exception names it) and exits. */
    private static void hookFailed(RuntimeApi api, String path, String type, Exception e, int status)
            throws IOException {
        Throwable cause = e.getSuppressed().length > 0 ? e.getSuppressed()[0] : e;
        Map<String, Object> body = Bootstrap.errorBody(type, cause.getClass().getName() + ": "
                + cause.getMessage(), Bootstrap.stackTrace(cause));
        System.err.println("[ERROR] " + cause.getClass().getName() + ": " + cause.getMessage());
        Bootstrap.flushOutput();
        Map<String, String> headers = new HashMap<>();
        headers.put("Content-Type", "application/json");
        headers.put("Lambda-Runtime-Function-Error-Type", type);
        api.request("POST", path, Mapper.write(body).getBytes(StandardCharsets.UTF_8), headers);
        System.exit(status);
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(256);
        while (true) {
            int c = in.read();
            if (c < 0) return b.size() == 0 ? null : b.toString("UTF-8");
            if (c == '\n') return b.toString("UTF-8");
            b.write(c);
        }
    }
}
