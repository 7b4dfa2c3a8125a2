#pragma once
// SQS's errors. The engine returns lamina's Error with a near ErrorCode and
// SQS's own short code name in Error::reason ("QueueDoesNotExist"); one
// table maps that name to the HTTP status, the awsJson `__type` and the
// legacy query code that `x-amzn-query-error` and the XML <Code> carry.

#include <string>

#include "lamina/common/error.hpp"

namespace lamina::sqs {

enum class SqsErrorCode {
    QueueDoesNotExist,
    QueueNameExists,
    InvalidParameterValue,
    MissingParameter,
    InvalidAttributeName,
    InvalidAttributeValue,
    TooManyEntriesInBatchRequest,
    InvalidBatchEntryId,
    BatchRequestTooLong,
    EmptyBatchRequest,
    BatchEntryIdsNotDistinct,
    PurgeQueueInProgress,
    ReceiptHandleIsInvalid,
    MessageNotInflight,
    InvalidMessageContents,
    UnsupportedOperation,
    InvalidAction,
    InternalError,
};

struct SqsErrorShape {
    SqsErrorCode code;
    unsigned status;
    const char* type;        // awsJson __type (short), e.g. "QueueDoesNotExist"
    const char* query_code;  // legacy code, e.g. "AWS.SimpleQueueService.NonExistentQueue"
    bool sender;             // "Sender" or "Receiver"
};

Error sqs_error(SqsErrorCode code, std::string message);
inline std::unexpected<Error> sqs_fail(SqsErrorCode code, std::string message) {
    return std::unexpected<Error>(sqs_error(code, std::move(message)));
}
// The row for an Error (from Error::reason; InternalError when it names no SQS code).
const SqsErrorShape& sqs_error_shape(const Error& e);
const SqsErrorShape& sqs_error_shape(SqsErrorCode code);

// "The specified queue does not exist." (the query protocol adds " for this wsdl version.")
Error no_such_queue();

}  // namespace lamina::sqs
