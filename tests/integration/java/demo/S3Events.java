package demo;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.S3Event;
import com.amazonaws.services.lambda.runtime.events.models.s3.S3EventNotification.S3EventNotificationRecord;
import java.util.LinkedHashMap;
import java.util.Map;

/** An S3 notification as S3Event: the record's fields printed; echo returns the event itself. */
public class S3Events implements RequestHandler<S3Event, String> {
    @Override
    public String handleRequest(S3Event event, Context context) {
        S3EventNotificationRecord rec = event.getRecords().get(0);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("records", event.getRecords().size());
        r.put("eventName", rec.getEventName());
        r.put("eventSource", rec.getEventSource());
        r.put("eventVersion", rec.getEventVersion());
        r.put("awsRegion", rec.getAwsRegion());
        r.put("eventTime", rec.getEventTime().toString());
        r.put("eventMillis", rec.getEventTime().getMillis());
        r.put("principalId", rec.getUserIdentity().getPrincipalId());
        r.put("sourceIPAddress", rec.getRequestParameters().getSourceIPAddress());
        r.put("requestId", rec.getResponseElements().getxAmzRequestId());
        r.put("configurationId", rec.getS3().getConfigurationId());
        r.put("bucket", rec.getS3().getBucket().getName());
        r.put("bucketArn", rec.getS3().getBucket().getArn());
        r.put("key", rec.getS3().getObject().getKey());
        r.put("urlDecodedKey", rec.getS3().getObject().getUrlDecodedKey());
        r.put("size", rec.getS3().getObject().getSizeAsLong());
        r.put("eTag", rec.getS3().getObject().geteTag());
        r.put("sequencer", rec.getS3().getObject().getSequencer());
        System.out.println("S3JAVA " + Out.json(r));
        return Out.json(r);
    }

    public S3Event echo(S3Event event) {
        return event;
    }
}
