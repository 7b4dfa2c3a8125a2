package com.amazonaws.services.lambda.runtime.logging;

/** The levels of LoggingConfig's ApplicationLogLevel (UNDEFINED: none given). */
public enum LogLevel {
    UNDEFINED,
    TRACE,
    DEBUG,
    INFO,
    WARN,
    ERROR,
    FATAL;

    /** The level named (case-insensitively); UNDEFINED for anything else. */
    public static LogLevel fromString(String name) {
        if (name != null) {
            for (LogLevel level : values()) {
                if (level.name().equalsIgnoreCase(name.trim())) return level;
            }
        }
        return UNDEFINED;
    }
}
