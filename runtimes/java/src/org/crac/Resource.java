package org.crac;

/**
 * Something that takes part in a checkpoint and its restores (the CRaC API AWS
 * documents for Java SnapStart's runtime hooks). Register it with
 * {@code Core.getGlobalContext().register(resource)} during init:
 * {@link #beforeCheckpoint} runs once, before lamina takes the version's
 * snapshot, and {@link #afterRestore} in each environment restored from it.
 */
public interface Resource {
    void beforeCheckpoint(Context<? extends Resource> context) throws Exception;

    void afterRestore(Context<? extends Resource> context) throws Exception;
}
