package org.crac;

import java.util.ArrayList;
import java.util.List;

/**
 * The global context. Its resources' beforeCheckpoint run in the reverse order
 * of their registration, their afterRestore in the order of registration, as
 * CRaC orders them. A resource is held strongly (CRaC's own implementation
 * holds it weakly: keep a reference to yours all the same).
 */
public final class Core {
    private static final Global GLOBAL = new Global();

    private Core() {}

    public static Context<Resource> getGlobalContext() {
        return GLOBAL;
    }

    /** Checkpoints are lamina's to take (at PublishVersion), not the function's. */
    public static void checkpointRestore() throws CheckpointException, RestoreException {
        throw new UnsupportedOperationException(
                "lamina takes the snapshot of a SnapStart version when it is published");
    }

    private static final class Global extends Context<Resource> {
        private final List<Resource> resources = new ArrayList<>();

        @Override
        public synchronized void register(Resource resource) {
            if (resource == null) throw new NullPointerException("resource");
            resources.add(resource);
        }

        private synchronized List<Resource> snapshot() {
            return new ArrayList<>(resources);
        }

        @Override
        public void beforeCheckpoint(Context<? extends Resource> context) throws CheckpointException {
            List<Resource> all = snapshot();
            CheckpointException failed = null;
            for (int i = all.size() - 1; i >= 0; i--) {
                try {
                    all.get(i).beforeCheckpoint(this);
                } catch (Exception e) {
                    if (failed == null) failed = new CheckpointException();
                    failed.addSuppressed(e);
                }
            }
            if (failed != null) throw failed;
        }

        @Override
        public void afterRestore(Context<? extends Resource> context) throws RestoreException {
            RestoreException failed = null;
            for (Resource r : snapshot()) {
                try {
                    r.afterRestore(this);
                } catch (Exception e) {
                    if (failed == null) failed = new RestoreException();
                    failed.addSuppressed(e);
                }
            }
            if (failed != null) throw failed;
        }
    }
}
