#pragma once
// Typed access to a request's JSON body with AWS-shaped errors for wrong
// types. Private to the api module.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"

namespace lamina::api {

using ojson = nlohmann::ordered_json;

// Parses a request body ("" = {}); InvalidRequestContent on bad JSON.
Result<ojson> parse_body(const std::string& body);
// Why text is not UTF-8 ("Invalid UTF-8 start byte 0x87"), or nullopt when it is.
std::optional<std::string> invalid_utf8(std::string_view text);

Error wrong_type(const std::string& field, const char* expected);

Result<std::optional<std::string>> opt_string(const ojson& j, const char* key);
Result<std::optional<long long>> opt_int(const ojson& j, const char* key);
Result<std::optional<double>> opt_number(const ojson& j, const char* key);
Result<std::optional<bool>> opt_bool(const ojson& j, const char* key);
Result<std::optional<std::vector<std::string>>> opt_string_list(const ojson& j, const char* key);
// Map in the caller's order.
Result<std::optional<std::vector<std::pair<std::string, std::string>>>> opt_string_map(
    const ojson& j, const char* key);
const ojson* opt_object(const ojson& j, const char* key);

}  // namespace lamina::api

namespace lamina::api {

// Parses a body that may carry one large base64 string (Code.ZipFile,
// Content.ZipFile) without running megabytes through the JSON parser: the
// string is cut out first and returned in `blob`, leaving "" in its place.
// `path` names where it must be ({"Code", "ZipFile"}); when the cut does not
// land there, the body is parsed normally and `blob` stays empty.
Result<ojson> parse_body_extracting(const std::string& body, const char* outer, const char* inner,
                                    std::optional<std::string_view>& blob);
// `blob` (cut from `body` by parse_body_extracting) as `body`'s own bytes,
// writable: a ZipFile is decoded over its base64 text (read_code).
std::optional<std::span<char>> writable_blob(std::string& body,
                                             std::optional<std::string_view> blob);

}  // namespace lamina::api
