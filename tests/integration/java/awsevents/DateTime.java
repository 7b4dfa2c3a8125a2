package org.joda.time;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/** Stand-in for Joda-Time's DateTime: parse(String) keeps the offset; toString() is ISO 8601 with millis. */
public final class DateTime {
    private final OffsetDateTime t;

    private DateTime(OffsetDateTime t) {
        this.t = t;
    }

    public static DateTime parse(String text) {
        return new DateTime(OffsetDateTime.parse(text));
    }

    public long getMillis() {
        return t.toInstant().toEpochMilli();
    }

    @Override
    public String toString() {
        String offset = t.getOffset().equals(ZoneOffset.UTC) ? "Z" : t.getOffset().getId();
        return t.format(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS")) + offset;
    }
}
