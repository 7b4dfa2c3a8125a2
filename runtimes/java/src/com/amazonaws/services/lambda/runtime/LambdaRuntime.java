package com.amazonaws.services.lambda.runtime;

import java.nio.charset.StandardCharsets;

/** The function's logger outside a handler call (static initializers, helpers). */
public final class LambdaRuntime {
    private LambdaRuntime() {}

    // The runtime puts its own logger here at start; until then, standard output.
    private static volatile LambdaLogger logger = new LambdaLogger() {
        @Override
        public void log(String message) {
            System.out.print(message);
        }

        @Override
        public void log(byte[] message) {
            System.out.print(new String(message, StandardCharsets.UTF_8));
        }
    };

    public static LambdaLogger getLogger() {
        return logger;
    }
}
