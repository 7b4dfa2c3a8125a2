package demo;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.APIGatewayV2HTTPEvent;
import com.amazonaws.services.lambda.runtime.events.APIGatewayV2HTTPResponse;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** A function URL request as APIGatewayV2HTTPEvent, answered with an APIGatewayV2HTTPResponse. */
public class UrlEvents implements RequestHandler<APIGatewayV2HTTPEvent, APIGatewayV2HTTPResponse> {
    @Override
    public APIGatewayV2HTTPResponse handleRequest(APIGatewayV2HTTPEvent event, Context context) {
        APIGatewayV2HTTPEvent.RequestContext rc = event.getRequestContext();
        String body = event.getBody();
        if (body != null && event.getIsBase64Encoded()) {
            body = new String(Base64.getDecoder().decode(body), StandardCharsets.UTF_8);
        }
        Map<String, Object> seen = new LinkedHashMap<>();
        seen.put("version", event.getVersion());
        seen.put("rawPath", event.getRawPath());
        seen.put("rawQueryString", event.getRawQueryString());
        seen.put("query", event.getQueryStringParameters());
        seen.put("header", event.getHeaders().get("x-test"));
        seen.put("cookies", event.getCookies());
        seen.put("isBase64Encoded", event.getIsBase64Encoded());
        seen.put("body", body);
        seen.put("method", rc.getHttp().getMethod());
        seen.put("path", rc.getHttp().getPath());
        seen.put("sourceIp", rc.getHttp().getSourceIp());
        seen.put("domainName", rc.getDomainName());
        seen.put("timeEpochPositive", rc.getTimeEpoch() > 0);
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Content-Type", "application/json");
        headers.put("X-Method", rc.getHttp().getMethod());
        if ("/binary".equals(event.getRawPath())) {
            return APIGatewayV2HTTPResponse.builder().withStatusCode(200)
                    .withHeaders(Collections.singletonMap("Content-Type", "application/octet-stream"))
                    .withBody(Base64.getEncoder().encodeToString(new byte[] {0, 1, (byte) 0xff}))
                    .withIsBase64Encoded(true).build();
        }
        return APIGatewayV2HTTPResponse.builder().withStatusCode(201).withHeaders(headers)
                .withCookies(Arrays.asList("session=abc; Path=/", "theme=dark"))
                .withBody(Out.json(seen)).build();
    }
}
