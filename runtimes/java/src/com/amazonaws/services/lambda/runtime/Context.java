package com.amazonaws.services.lambda.runtime;

/** The invocation's context, as AWS's Java runtime passes it to a handler. */
public interface Context {
    String getAwsRequestId();

    String getLogGroupName();

    String getLogStreamName();

    String getFunctionName();

    String getFunctionVersion();

    String getInvokedFunctionArn();

    CognitoIdentity getIdentity();

    ClientContext getClientContext();

    int getRemainingTimeInMillis();

    int getMemoryLimitInMB();

    LambdaLogger getLogger();

    /**
     * The tenant of this invocation when the function has tenant isolation
     * (TenancyConfig PER_TENANT); null otherwise.
     */
    default String getTenantId() {
        return null;
    }
}
