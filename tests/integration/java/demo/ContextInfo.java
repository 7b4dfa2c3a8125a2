package demo;

import com.amazonaws.services.lambda.runtime.Context;
import java.util.LinkedHashMap;
import java.util.Map;

public class ContextInfo {
    public Map<String, Object> handle(Map<String, Object> event, Context context) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("arn", context.getInvokedFunctionArn());
        out.put("group", context.getLogGroupName());
        out.put("stream", context.getLogStreamName());
        out.put("identity", context.getIdentity().getIdentityId());
        if (context.getClientContext() != null) {
            out.put("custom", context.getClientContext().getCustom());
            out.put("env", context.getClientContext().getEnvironment());
            out.put("app", context.getClientContext().getClient().getAppTitle());
        }
        out.put("remaining", context.getRemainingTimeInMillis());
        return out;
    }
}
