package demo;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;

public class Levels {
    public static String handle(Object event, Context context) {
        LambdaLogger logger = context.getLogger();
        logger.log("DROPPED info", LogLevel.INFO);
        logger.log("KEPT error", LogLevel.ERROR);
        return "ok";
    }
}
