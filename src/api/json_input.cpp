#include "json_input.hpp"

namespace lamina::api {

Result<ojson> parse_body(const std::string& body) {
    if (body.empty()) return ojson::object();
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
    return Error{ErrorCode::InvalidRequestContent,
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

Result<std::optional<std::vector<std::pair<std::string, std::string>>>> opt_string_map(const ojson& j, const char* key) {
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
