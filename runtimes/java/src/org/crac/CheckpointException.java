package org.crac;

/** A checkpoint failed: the failures of the resources' beforeCheckpoint are its suppressed exceptions. */
public class CheckpointException extends Exception {
    private static final long serialVersionUID = 1L;

    public CheckpointException() {}
}
