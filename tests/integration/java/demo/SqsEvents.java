package demo;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.SQSEvent;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An SQS event source mapping's batch as SQSEvent: each record's fields, printed and returned. */
public class SqsEvents implements RequestHandler<SQSEvent, List<Map<String, Object>>> {
    @Override
    public List<Map<String, Object>> handleRequest(SQSEvent event, Context context) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (SQSEvent.SQSMessage m : event.getRecords()) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("messageId", m.getMessageId());
            r.put("receiptHandle", m.getReceiptHandle());
            r.put("body", m.getBody());
            r.put("md5OfBody", m.getMd5OfBody());
            r.put("eventSource", m.getEventSource());
            r.put("eventSourceArn", m.getEventSourceArn());
            r.put("awsRegion", m.getAwsRegion());
            r.put("receiveCount", m.getAttributes().get("ApproximateReceiveCount"));
            Map<String, Object> attrs = new LinkedHashMap<>();
            for (Map.Entry<String, SQSEvent.MessageAttribute> e : m.getMessageAttributes().entrySet()) {
                SQSEvent.MessageAttribute a = e.getValue();
                ByteBuffer bin = a.getBinaryValue();
                String b64 = null;
                if (bin != null) {
                    byte[] bytes = new byte[bin.remaining()];
                    bin.duplicate().get(bytes);
                    b64 = Base64.getEncoder().encodeToString(bytes);
                }
                attrs.put(e.getKey(), a.getDataType() + ":" + (b64 != null ? b64 : a.getStringValue()));
            }
            r.put("messageAttributes", attrs);
            System.out.println("SQSJAVA " + Out.json(r));
            out.add(r);
        }
        return out;
    }
}
