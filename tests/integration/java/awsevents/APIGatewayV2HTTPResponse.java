package com.amazonaws.services.lambda.runtime.events;

import java.util.List;
import java.util.Map;

/** Stand-in for aws-lambda-java-events' APIGatewayV2HTTPResponse, its builder included. */
public class APIGatewayV2HTTPResponse {
    private int statusCode;
    private Map<String, String> headers;
    private Map<String, List<String>> multiValueHeaders;
    private List<String> cookies;
    private String body;
    private boolean isBase64Encoded;

    public int getStatusCode() { return statusCode; }
    public void setStatusCode(int v) { statusCode = v; }
    public Map<String, String> getHeaders() { return headers; }
    public void setHeaders(Map<String, String> v) { headers = v; }
    public Map<String, List<String>> getMultiValueHeaders() { return multiValueHeaders; }
    public void setMultiValueHeaders(Map<String, List<String>> v) { multiValueHeaders = v; }
    public List<String> getCookies() { return cookies; }
    public void setCookies(List<String> v) { cookies = v; }
    public String getBody() { return body; }
    public void setBody(String v) { body = v; }
    public boolean getIsBase64Encoded() { return isBase64Encoded; }
    public void setIsBase64Encoded(boolean v) { isBase64Encoded = v; }

    public static APIGatewayV2HTTPResponseBuilder builder() {
        return new APIGatewayV2HTTPResponseBuilder();
    }

    public static class APIGatewayV2HTTPResponseBuilder {
        private final APIGatewayV2HTTPResponse r = new APIGatewayV2HTTPResponse();
        public APIGatewayV2HTTPResponseBuilder withStatusCode(int v) { r.statusCode = v; return this; }
        public APIGatewayV2HTTPResponseBuilder withHeaders(Map<String, String> v) { r.headers = v; return this; }
        public APIGatewayV2HTTPResponseBuilder withCookies(List<String> v) { r.cookies = v; return this; }
        public APIGatewayV2HTTPResponseBuilder withBody(String v) { r.body = v; return this; }
        public APIGatewayV2HTTPResponseBuilder withIsBase64Encoded(boolean v) { r.isBase64Encoded = v; return this; }
        public APIGatewayV2HTTPResponse build() { return r; }
    }
}
