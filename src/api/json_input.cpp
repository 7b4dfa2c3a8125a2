#include "json_input.hpp"

#include <cctype>
#include <cstdio>
#include <cstring>

#include "lamina/common/encoding.hpp"

namespace lamina::api {

std::optional<std::string> invalid_utf8(std::string_view text) {
    if (is_valid_utf8(text)) return std::nullopt;
    // the first byte that starts no valid sequence, as AWS's parser names it
    for (std::size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        std::size_t n = c < 0x80             ? 1
                        : (c & 0xe0) == 0xc0 ? 2
                        : (c & 0xf0) == 0xe0 ? 3
                        : (c & 0xf8) == 0xf0 ? 4
                                             : 0;
        if (n == 0 || i + n > text.size() || !is_valid_utf8(text.substr(i, n))) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "Invalid UTF-8 start byte 0x%02x", c);
            return std::string(buf);
        }
        i += n;
    }
    return std::string("Invalid UTF-8");
}

Result<ojson> parse_body(const std::string& body) {
    if (body.empty()) return ojson::object();
    if (auto bad = invalid_utf8(body))
        return fail(ErrorCode::InvalidRequestContent,
                    "Could not parse request body into json: " + *bad);
    try {
        auto j = ojson::parse(body);
        if (!j.is_object())
            return fail(ErrorCode::InvalidRequestContent,
                        "Could not parse request body into json: the body is not a JSON object");
        return j;
    } catch (const nlohmann::json::exception& e) {
        return fail(ErrorCode::InvalidRequestContent,
                    std::string("Could not parse request body into json: ") + e.what());
    }
}

Error wrong_type(const std::string& field, const char* expected) {
    return Error{
        ErrorCode::InvalidRequestContent,
        "Could not parse request body into json: field '" + field + "' must be " + expected};
}

Result<std::optional<std::string>> opt_string(const ojson& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::optional<std::string>{};
    if (!it->is_string()) return std::unexpected(wrong_type(key, "a string"));
    return std::optional<std::string>(it->get<std::string>());
}

Result<std::optional<long long>> opt_int(const ojson& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::optional<long long>{};
    if (!it->is_number_integer()) return std::unexpected(wrong_type(key, "an integer"));
    return std::optional<long long>(it->get<long long>());
}

Result<std::optional<double>> opt_number(const ojson& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::optional<double>{};
    if (!it->is_number()) return std::unexpected(wrong_type(key, "a number"));
    return std::optional<double>(it->get<double>());
}

Result<std::optional<bool>> opt_bool(const ojson& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::optional<bool>{};
    if (!it->is_boolean()) return std::unexpected(wrong_type(key, "a boolean"));
    return std::optional<bool>(it->get<bool>());
}

Result<std::optional<std::vector<std::string>>> opt_string_list(const ojson& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::optional<std::vector<std::string>>{};
    if (!it->is_array()) return std::unexpected(wrong_type(key, "a list of strings"));
    std::vector<std::string> out;
    for (const auto& v : *it) {
        if (!v.is_string()) return std::unexpected(wrong_type(key, "a list of strings"));
        out.push_back(v.get<std::string>());
    }
    return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::optional<std::vector<std::pair<std::string, std::string>>>> opt_string_map(
    const ojson& j, const char* key) {
    using Out = std::optional<std::vector<std::pair<std::string, std::string>>>;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Out{};
    if (!it->is_object()) return std::unexpected(wrong_type(key, "a map of strings"));
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [k, v] : it->items()) {
        if (!v.is_string()) return std::unexpected(wrong_type(key, "a map of strings"));
        out.emplace_back(k, v.get<std::string>());
    }
    return Out(std::move(out));
}

const ojson* opt_object(const ojson& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_object()) return nullptr;
    return &*it;
}

}  // namespace lamina::api

namespace lamina::api {

namespace {

// Position of the opening quote of the string value of the only `"key":` in body.
std::optional<std::pair<std::size_t, std::size_t>> find_string_value(const std::string& body,
                                                                     const std::string& key) {
    std::string needle = "\"" + key + "\"";
    std::optional<std::pair<std::size_t, std::size_t>> found;
    for (std::size_t pos = body.find(needle); pos != std::string::npos;
         pos = body.find(needle, pos + 1)) {
        std::size_t i = pos + needle.size();
        while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
        if (i >= body.size() || body[i] != ':') continue;  // a value, not a key
        ++i;
        while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
        if (i >= body.size() || body[i] != '"') return std::nullopt;
        if (found) return std::nullopt;  // more than one: let the parser decide
        std::size_t close = body.find('"', i + 1);
        if (close == std::string::npos) return std::nullopt;
        if (std::memchr(body.data() + i + 1, '\\', close - i - 1))
            return std::nullopt;  // escapes: slow path
        found = std::make_pair(i + 1, close);
        // No quote inside the value: the next `"key"` starts at its opening
        // quote or from its closing one on (not searched through megabytes again).
        pos = (body.compare(i, needle.size(), needle) == 0 ? i : close) - 1;
    }
    return found;
}

}  // namespace

Result<ojson> parse_body_extracting(const std::string& body, const char* outer, const char* inner,
                                    std::optional<std::string_view>& blob) {
    blob.reset();
    constexpr std::size_t kWorthIt = 64 * 1024;
    if (body.size() >= kWorthIt) {
        if (auto span = find_string_value(body, inner);
            span && span->second - span->first >= kWorthIt) {
            std::string rest;
            rest.reserve(body.size() - (span->second - span->first));
            rest.append(body, 0, span->first);
            rest.append(body, span->second, std::string::npos);
            auto parsed = parse_body(rest);
            if (parsed) {
                const ojson* o = *outer ? opt_object(*parsed, outer) : &*parsed;
                bool placeholder = false;
                if (o) {
                    auto it = o->find(inner);
                    placeholder = it != o->end() && it->is_string() &&
                                  it->template get<std::string>().empty();
                }
                if (placeholder) {
                    blob = std::string_view(body).substr(span->first, span->second - span->first);
                    return parsed;
                }
            }
        }
    }
    return parse_body(body);
}

std::optional<std::span<char>> writable_blob(std::string& body,
                                             std::optional<std::string_view> blob) {
    if (!blob) return std::nullopt;
    auto offset = static_cast<std::size_t>(blob->data() - body.data());
    return std::span<char>(body.data() + offset, blob->size());
}

}  // namespace lamina::api
