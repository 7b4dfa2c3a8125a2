package demo;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Arrays;

public class PojoHandler implements RequestHandler<Order, Receipt> {
    @Override
    public Receipt handleRequest(Order order, Context context) {
        context.getLogger().log("LOGGER " + context.getAwsRequestId());
        com.amazonaws.services.lambda.runtime.LambdaRuntime.getLogger().log("STATIC logger");
        System.out.println("STDOUT " + context.getFunctionName() + " " + context.getMemoryLimitInMB());
        return new Receipt(order, Arrays.asList(context.getFunctionVersion(),
                String.valueOf(context.getRemainingTimeInMillis() > 0)));
    }

    public String handleRequestCustom(Order order, Context context) {
        return "CUSTOM " + order.getKey();
    }
}
