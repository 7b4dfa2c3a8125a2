package com.amazonaws.services.lambda.runtime.events.models.s3;

import java.io.UnsupportedEncodingException;
import java.net.URLDecoder;
import java.util.List;
import org.joda.time.DateTime;

/** Stand-in for the events library's S3EventNotification: immutable, built through constructors. */
public class S3EventNotification {
    private final List<S3EventNotificationRecord> records;

    public S3EventNotification(List<S3EventNotificationRecord> records) {
        this.records = records;
    }

    public List<S3EventNotificationRecord> getRecords() { return records; }

    public static class UserIdentityEntity {
        private final String principalId;
        public UserIdentityEntity(String principalId) { this.principalId = principalId; }
        public String getPrincipalId() { return principalId; }
    }

    public static class S3BucketEntity {
        private final String name, arn;
        private final UserIdentityEntity ownerIdentity;
        public S3BucketEntity(String name, UserIdentityEntity ownerIdentity, String arn) {
            this.name = name;
            this.ownerIdentity = ownerIdentity;
            this.arn = arn;
        }
        public String getName() { return name; }
        public UserIdentityEntity getOwnerIdentity() { return ownerIdentity; }
        public String getArn() { return arn; }
    }

    public static class S3ObjectEntity {
        private final String key, eTag, versionId, sequencer;
        private final Long size;
        public S3ObjectEntity(String key, Long size, String eTag, String versionId, String sequencer) {
            this.key = key;
            this.size = size;
            this.eTag = eTag;
            this.versionId = versionId;
            this.sequencer = sequencer;
        }
        public String getKey() { return key; }
        public String getUrlDecodedKey() {
            try {
                return URLDecoder.decode(key, "UTF-8");
            } catch (UnsupportedEncodingException e) {
                throw new IllegalStateException(e);
            }
        }
        @Deprecated
        public Integer getSize() { return size == null ? null : size.intValue(); }
        public Long getSizeAsLong() { return size; }
        public String geteTag() { return eTag; }
        public String getVersionId() { return versionId; }
        public String getSequencer() { return sequencer; }
    }

    public static class S3Entity {
        private final String configurationId, s3SchemaVersion;
        private final S3BucketEntity bucket;
        private final S3ObjectEntity object;
        public S3Entity(String configurationId, S3BucketEntity bucket, S3ObjectEntity object, String s3SchemaVersion) {
            this.configurationId = configurationId;
            this.bucket = bucket;
            this.object = object;
            this.s3SchemaVersion = s3SchemaVersion;
        }
        public String getConfigurationId() { return configurationId; }
        public S3BucketEntity getBucket() { return bucket; }
        public S3ObjectEntity getObject() { return object; }
        public String getS3SchemaVersion() { return s3SchemaVersion; }
    }

    public static class RequestParametersEntity {
        private final String sourceIPAddress;
        public RequestParametersEntity(String sourceIPAddress) { this.sourceIPAddress = sourceIPAddress; }
        public String getSourceIPAddress() { return sourceIPAddress; }
    }

    public static class ResponseElementsEntity {
        private final String xAmzId2, xAmzRequestId;
        public ResponseElementsEntity(String xAmzId2, String xAmzRequestId) {
            this.xAmzId2 = xAmzId2;
            this.xAmzRequestId = xAmzRequestId;
        }
        public String getxAmzId2() { return xAmzId2; }
        public String getxAmzRequestId() { return xAmzRequestId; }
    }

    public static class S3EventNotificationRecord {
        private final String awsRegion, eventName, eventSource, eventVersion;
        private final DateTime eventTime;
        private final RequestParametersEntity requestParameters;
        private final ResponseElementsEntity responseElements;
        private final S3Entity s3;
        private final UserIdentityEntity userIdentity;

        public S3EventNotificationRecord(String awsRegion, String eventName, String eventSource, String eventTime,
                String eventVersion, RequestParametersEntity requestParameters,
                ResponseElementsEntity responseElements, S3Entity s3, UserIdentityEntity userIdentity) {
            this.awsRegion = awsRegion;
            this.eventName = eventName;
            this.eventSource = eventSource;
            this.eventTime = eventTime == null ? null : DateTime.parse(eventTime);
            this.eventVersion = eventVersion;
            this.requestParameters = requestParameters;
            this.responseElements = responseElements;
            this.s3 = s3;
            this.userIdentity = userIdentity;
        }
        public String getAwsRegion() { return awsRegion; }
        public String getEventName() { return eventName; }
        public String getEventSource() { return eventSource; }
        public DateTime getEventTime() { return eventTime; }
        public String getEventVersion() { return eventVersion; }
        public RequestParametersEntity getRequestParameters() { return requestParameters; }
        public ResponseElementsEntity getResponseElements() { return responseElements; }
        public S3Entity getS3() { return s3; }
        public UserIdentityEntity getUserIdentity() { return userIdentity; }
    }
}
