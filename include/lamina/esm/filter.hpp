#pragma once
// Lambda event filtering (FilterCriteria) for SQS event source mappings: the
// EventBridge pattern language as Lambda supports it. A pattern is a JSON
// object whose keys address record fields and whose leaves are value lists
// (strings, numbers, booleans, null, and operator objects: prefix, suffix,
// equals-ignore-case, anything-but, numeric, exists), with $or at any level.
// Filters are OR-ed; a record passes one when every key of it matches.
//
// SQS body rule: a record's `body` is a string. A pattern giving `body` an
// object matches the body parsed as JSON (a body that is not JSON fails); a
// pattern giving `body` a value list matches the raw string only when it is
// not JSON. Pure logic: no I/O, no state beyond the compiled patterns.

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"

namespace lamina::esm {

// AWS: at most 5 filters per mapping (a quota AWS can raise to 10), each
// Pattern at most 4096 characters (the API model's constraint).
inline constexpr std::size_t kMaxFilters = 5;
inline constexpr std::size_t kMaxPatternLength = 4096;

inline constexpr const char* kInvalidPatternMessage = "Invalid filter pattern definition.";

struct PatternNode;  // one compiled pattern object (src/esm/filter.cpp)

class FilterCriteria {
public:
    // The Pattern strings of FilterCriteria.Filters[]. An invalid pattern is
    // InvalidParameterValue "Invalid filter pattern definition."; a pattern
    // over 4096 characters is the model's ValidationException; more than
    // kMaxFilters is InvalidParameterValue.
    static Result<FilterCriteria> parse(const std::vector<std::string>& patterns);

    // Whether an SQS event record (messageId, receiptHandle, body as a
    // string, attributes, ...) passes: any filter matches, or there is none.
    bool matches(const nlohmann::json& record) const;
    bool empty() const { return patterns_.empty(); }

private:
    // Immutable once parsed: copies of a FilterCriteria share them.
    std::vector<std::shared_ptr<const PatternNode>> patterns_;
};

}  // namespace lamina::esm
