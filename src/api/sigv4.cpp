#include "lamina/api/sigv4.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

#include "lamina/api/request_context.hpp"
#include "lamina/common/encoding.hpp"

namespace lamina::api {

namespace {

std::string field(const std::string& auth, const std::string& name) {
    auto pos = auth.find(name + "=");
    if (pos == std::string::npos) return {};
    pos += name.size() + 1;
    auto end = auth.find_first_of(", ", pos);
    return auth.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

std::string trim_value(const std::string& v) {
    std::string out;
    bool space = false;
    for (char c : v) {
        if (c == ' ' || c == '\t') {
            space = !out.empty();
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        out.push_back(c);
    }
    return out;
}

// "20260101T000000Z" -> epoch ms
std::optional<std::int64_t> parse_amz_date(const std::string& d) {
    std::tm tm{};
    if (d.size() != 16 || std::sscanf(d.c_str(), "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon,
                                      &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

Error denied(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace

Result<CredentialStore> load_credentials(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return fail(ErrorCode::Service, "cannot read the credentials file " + file.string());
    CredentialStore store;
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        std::istringstream words(line);
        std::string key, secret, account, extra;
        words >> key >> secret >> account;
        bool digits =
            account.size() == 12 && std::all_of(account.begin(), account.end(), ::isdigit);
        if (key.empty() || secret.empty() || !digits || (words >> extra))
            return fail(ErrorCode::Service,
                        file.string() + ":" + std::to_string(n) +
                            ": expected ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID (12 digits)");
        store[key] = Credential{secret, account};
    }
    if (store.empty()) return fail(ErrorCode::Service, file.string() + ": no credentials");
    return store;
}

std::string canonical_request(const http::Request& req, const std::string& signed_headers,
                              bool s3) {
    // query: every parameter but the signature itself, encoded and sorted
    std::vector<std::pair<std::string, std::string>> query;
    for (const auto& [k, v] : req.query)
        if (k != "X-Amz-Signature") query.emplace_back(url_encode(k), url_encode(v));
    std::sort(query.begin(), query.end());
    std::string qs;
    for (const auto& [k, v] : query) qs += (qs.empty() ? "" : "&") + k + "=" + v;
    std::string headers;
    std::istringstream names(signed_headers);
    for (std::string name; std::getline(names, name, ';');)
        headers += name + ":" + trim_value(req.headers.get(name)) + "\n";
    std::string payload = req.headers.get("x-amz-content-sha256");
    if (payload.empty())
        payload =
            req.query_param("X-Amz-Signature") ? "UNSIGNED-PAYLOAD" : to_hex(sha256(req.body));
    // S3 signs the path as sent (encoded once), the other services encode it again
    // AWS services other than S3 sign the path as sent, encoded once more
    std::string path = s3 ? (req.path.empty() ? "/" : req.path) : url_encode(req.path, true);
    return req.method + "\n" + path + "\n" + qs + "\n" + headers + "\n" + signed_headers + "\n" +
           payload;
}

void sign_sigv4(http::Request& req, const std::string& access_key_id,
                const std::string& secret_access_key, const std::string& region,
                const std::string& service, std::int64_t now_ms) {
    auto secs = static_cast<std::time_t>(now_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[20];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    std::string amz_date = stamp;
    std::string date = amz_date.substr(0, 8);
    req.headers.set("X-Amz-Date", amz_date);
    req.headers.set("x-amz-content-sha256", to_hex(sha256(req.body)));
    std::vector<std::string> names;
    for (const auto& [name, _] : req.headers.items) {
        std::string lower = ascii_lower(name);
        if (lower == "host" || lower == "content-type" || lower.rfind("x-amz-", 0) == 0)
            names.push_back(lower);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    std::string signed_headers;
    for (const auto& n : names) signed_headers += (signed_headers.empty() ? "" : ";") + n;
    std::string scope = date + "/" + region + "/" + service + "/aws4_request";
    std::string signature = sigv4_signature(secret_access_key, amz_date, region, service,
                                            canonical_request(req, signed_headers));
    req.headers.set("Authorization", "AWS4-HMAC-SHA256 Credential=" + access_key_id + "/" + scope +
                                         ", SignedHeaders=" + signed_headers +
                                         ", Signature=" + signature);
}

Result<std::string> verify_sigv4(const http::Request& req, const CredentialStore& store,
                                 std::int64_t now_ms, SigV4Seed* seed) {
    std::string auth = req.headers.get("Authorization");
    std::string signature, signed_headers, credential, amz_date;
    if (!auth.empty()) {
        if (auth.rfind("AWS4-HMAC-SHA256 ", 0) != 0)
            return std::unexpected(
                denied(ErrorCode::IncompleteSignature,
                       "Authorization header requires the AWS4-HMAC-SHA256 algorithm."));
        credential = field(auth, "Credential");
        signed_headers = field(auth, "SignedHeaders");
        signature = field(auth, "Signature");
        amz_date = req.headers.get("X-Amz-Date");
        if (credential.empty() || signed_headers.empty() || signature.empty() || amz_date.empty())
            return std::unexpected(
                denied(ErrorCode::IncompleteSignature,
                       "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' "
                       "and an X-Amz-Date header."));
    } else if (auto sig = req.query_param("X-Amz-Signature")) {
        signature = *sig;
        credential = req.query_param("X-Amz-Credential").value_or("");
        signed_headers = req.query_param("X-Amz-SignedHeaders").value_or("host");
        amz_date = req.query_param("X-Amz-Date").value_or("");
    } else {
        return std::unexpected(
            denied(ErrorCode::MissingAuthenticationToken, "Missing Authentication Token"));
    }
    auto scope = parse_sigv4_scope("Credential=" + credential);
    if (!scope)
        return std::unexpected(
            denied(ErrorCode::IncompleteSignature, "Credential is malformed: " + credential));
    auto found = store.find(scope->access_key_id);
    if (found == store.end())
        return std::unexpected(denied(ErrorCode::UnrecognizedClient,
                                      "The security token included in the request is invalid."));
    auto when = parse_amz_date(amz_date);
    if (!when || amz_date.substr(0, 8) != scope->date)
        return std::unexpected(denied(ErrorCode::InvalidSignature,
                                      "Date in Credential scope does not match YYYYMMDD from "
                                      "ISO-8601 version of date from HTTP: '" +
                                          scope->date + "' != '" + amz_date.substr(0, 8) + "'."));
    if (std::llabs(now_ms - *when) > 5 * 60 * 1000)
        return std::unexpected(
            denied(ErrorCode::InvalidSignature,
                   "Signature expired: " + amz_date +
                       " is now earlier or later than 5 minutes from the server's time."));
    std::string canonical = canonical_request(req, signed_headers, scope->service == "s3");
    if (sigv4_signature(found->second.secret_access_key, amz_date, scope->region, scope->service,
                        canonical) != signature)
        return std::unexpected(
            denied(ErrorCode::InvalidSignature,
                   "The request signature we calculated does not match the signature you provided. "
                   "Check your AWS Secret Access Key and signing method. Consult the service "
                   "documentation for details."));
    if (seed)
        *seed = SigV4Seed{
            sigv4_signing_key(found->second.secret_access_key, scope->date, scope->region,
                              scope->service),
            amz_date, scope->date + "/" + scope->region + "/" + scope->service + "/aws4_request",
            signature};
    return scope->access_key_id;
}

}  // namespace lamina::api
