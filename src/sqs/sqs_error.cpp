#include "lamina/sqs/sqs_error.hpp"

#include "lamina/sqs/queues.hpp"

namespace lamina::sqs {

namespace {

using C = SqsErrorCode;
constexpr SqsErrorShape kTable[] = {
    {C::QueueDoesNotExist, 400, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
     true},
    {C::QueueNameExists, 400, "QueueNameExists", "QueueAlreadyExists", true},
    {C::InvalidParameterValue, 400, "InvalidParameterValueException", "InvalidParameterValue",
     true},
    {C::MissingParameter, 400, "MissingRequiredParameterException", "MissingParameter", true},
    {C::InvalidAttributeName, 400, "InvalidAttributeName", "InvalidAttributeName", true},
    {C::InvalidAttributeValue, 400, "InvalidAttributeValue", "InvalidAttributeValue", true},
    {C::TooManyEntriesInBatchRequest, 400, "TooManyEntriesInBatchRequest",
     "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", true},
    {C::InvalidBatchEntryId, 400, "InvalidBatchEntryId",
     "AWS.SimpleQueueService.InvalidBatchEntryId", true},
    {C::BatchRequestTooLong, 400, "BatchRequestTooLong",
     "AWS.SimpleQueueService.BatchRequestTooLong", true},
    {C::EmptyBatchRequest, 400, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest",
     true},
    {C::BatchEntryIdsNotDistinct, 400, "BatchEntryIdsNotDistinct",
     "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", true},
    {C::PurgeQueueInProgress, 403, "PurgeQueueInProgress",
     "AWS.SimpleQueueService.PurgeQueueInProgress", true},
    {C::ReceiptHandleIsInvalid, 400, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", true},
    {C::MessageNotInflight, 400, "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight",
     true},
    {C::InvalidMessageContents, 400, "InvalidMessageContents", "InvalidMessageContents", true},
    {C::UnsupportedOperation, 400, "UnsupportedOperation",
     "AWS.SimpleQueueService.UnsupportedOperation", true},
    {C::InvalidAction, 400, "InvalidAction", "InvalidAction", true},
    {C::InternalError, 500, "InternalError", "InternalError", false},
};

ErrorCode common_code(SqsErrorCode c) {
    switch (c) {
        case C::QueueDoesNotExist:
            return ErrorCode::ResourceNotFound;
        case C::QueueNameExists:
            return ErrorCode::ResourceConflict;
        case C::MissingParameter:
            return ErrorCode::MissingParameter;
        case C::InvalidAction:
        case C::UnsupportedOperation:
            return ErrorCode::InvalidAction;
        case C::InternalError:
            return ErrorCode::Service;
        default:
            return ErrorCode::InvalidParameterValue;
    }
}

}  // namespace

Error sqs_error(SqsErrorCode code, std::string message) {
    Error e{common_code(code), std::move(message)};
    e.reason = sqs_error_shape(code).type;
    return e;
}

const SqsErrorShape& sqs_error_shape(SqsErrorCode code) {
    for (const auto& row : kTable)
        if (row.code == code) return row;
    return kTable[std::size(kTable) - 1];
}

const SqsErrorShape& sqs_error_shape(const Error& e) {
    if (e.reason)
        for (const auto& row : kTable)
            if (*e.reason == row.type) return row;
    return kTable[std::size(kTable) - 1];
}

Error no_such_queue() {
    return sqs_error(SqsErrorCode::QueueDoesNotExist, "The specified queue does not exist.");
}

std::string query_error_code(const Error& e) { return sqs_error_shape(e).query_code; }

}  // namespace lamina::sqs
