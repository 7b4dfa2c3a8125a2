#include "lamina/s3/address.hpp"

#include <regex>

#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"

namespace lamina::s3 {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::optional<std::string> virtual_host_bucket(std::string_view host_header,
                                               const std::vector<std::string>& bases) {
    std::string host = ascii_lower(host_header);
    if (host.empty() || host.front() == '[') return std::nullopt;  // IPv6 literal
    if (auto colon = host.rfind(':'); colon != std::string::npos) host.resize(colon);
    for (const auto& base : bases) {
        std::string suffix = "." + ascii_lower(base);
        if (host.size() > suffix.size() && ends_with(host, suffix))
            return host.substr(0, host.size() - suffix.size());
    }
    if (ends_with(host, ".amazonaws.com")) {
        static const std::regex kAws(R"((.+)\.s3([.-][a-z0-9-]+)?\.amazonaws\.com)");
        std::smatch m;
        if (regex_full_match(host, m, kAws)) return m[1].str();
    }
    return std::nullopt;
}

std::optional<S3Address> parse_address(std::string_view host, std::string_view raw_path,
                                       const std::vector<std::string>& bases) {
    S3Address a;
    std::string_view path = raw_path;
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    if (auto bucket = virtual_host_bucket(host, bases)) {
        a.virtual_host = true;
        a.bucket = *bucket;
        auto key = url_decode(path, false);
        if (!key) return std::nullopt;
        a.key = std::move(*key);
        return a;
    }
    auto slash = path.find('/');
    auto bucket = url_decode(path.substr(0, slash), false);
    if (!bucket) return std::nullopt;
    a.bucket = std::move(*bucket);
    if (slash != std::string_view::npos) {
        auto key = url_decode(path.substr(slash + 1), false);
        if (!key) return std::nullopt;
        a.key = std::move(*key);
    }
    return a;
}

bool valid_bucket_name(std::string_view name) {
    if (name.size() < 3 || name.size() > 63) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(name.front()) || !alnum(name.back())) return false;
    if (name.find("..") != std::string_view::npos) return false;
    if (name.rfind("xn--", 0) == 0 || name.rfind("sthree-", 0) == 0) return false;
    if (ends_with(name, "-s3alias") || ends_with(name, "--ol-s3")) return false;
    static const std::regex kIp(R"(\d+\.\d+\.\d+\.\d+)");
    return !regex_full_match(std::string(name), kIp);
}

}  // namespace lamina::s3
