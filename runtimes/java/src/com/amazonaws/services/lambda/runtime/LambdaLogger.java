package com.amazonaws.services.lambda.runtime;

import com.amazonaws.services.lambda.runtime.logging.LogLevel;

/** Writes to the function's log stream: each call one record. */
public interface LambdaLogger {
    void log(String message);

    void log(byte[] message);

    /** A record at a level: in JSON log format, dropped below the function's ApplicationLogLevel. */
    default void log(String message, LogLevel logLevel) {
        log(message);
    }

    default void log(byte[] message, LogLevel logLevel) {
        log(message);
    }
}
