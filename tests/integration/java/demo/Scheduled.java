package demo;

import com.amazonaws.services.lambda.runtime.events.ScheduledEvent;
import java.util.LinkedHashMap;
import java.util.Map;

/** An EventBridge scheduled event as ScheduledEvent ("detail-type", a Joda DateTime time). */
public class Scheduled {
    public Map<String, Object> fields(ScheduledEvent e) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("detailType", e.getDetailType());
        r.put("time", e.getTime().toString());
        r.put("millis", e.getTime().getMillis());
        r.put("source", e.getSource());
        r.put("account", e.getAccount());
        r.put("resources", e.getResources());
        r.put("detail", e.getDetail());
        return r;
    }

    public ScheduledEvent echo(ScheduledEvent e) {
        return e;
    }
}
