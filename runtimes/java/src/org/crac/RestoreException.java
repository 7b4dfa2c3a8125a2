package org.crac;

/** A restore failed: the failures of the resources' afterRestore are its suppressed exceptions. */
public class RestoreException extends Exception {
    private static final long serialVersionUID = 1L;

    public RestoreException() {}
}
