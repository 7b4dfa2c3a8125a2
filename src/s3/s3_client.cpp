#include "lamina/s3/s3_client.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <ctime>

#include "lamina/common/encoding.hpp"
#include "lamina/s3/xml.hpp"

namespace lamina::s3 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

std::string amz_now() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[20];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

}  // namespace

std::string sigv4_authorization(const SigV4Request& r) {
    std::vector<std::pair<std::string, std::string>> headers = r.headers;
    headers.emplace_back("host", r.host);
    headers.emplace_back("x-amz-content-sha256", r.payload_hash);
    headers.emplace_back("x-amz-date", r.amz_date);
    std::sort(headers.begin(), headers.end());
    std::string canonical_headers, signed_headers;
    for (const auto& [k, v] : headers) {
        canonical_headers += k + ":" + v + "\n";
        signed_headers += (signed_headers.empty() ? "" : ";") + k;
    }
    std::string canonical = r.method + "\n" + r.canonical_uri + "\n" + r.canonical_query + "\n" +
                            canonical_headers + "\n" + signed_headers + "\n" + r.payload_hash;
    std::string scope =
        r.amz_date.substr(0, 8) + "/" + r.region + "/" + r.service + "/aws4_request";
    return "AWS4-HMAC-SHA256 Credential=" + r.access_key_id + "/" + scope +
           ", SignedHeaders=" + signed_headers + ", Signature=" +
           sigv4_signature(r.secret_access_key, r.amz_date, r.region, r.service, canonical);
}

Result<S3Endpoint> parse_endpoint(const std::string& url) {
    if (url.rfind("https://", 0) == 0)
        return fail(ErrorCode::Service,
                    "--s3-endpoint: lamina reaches other S3 servers over plain http only: " + url);
    if (url.rfind("http://", 0) != 0)
        return fail(ErrorCode::Service, "--s3-endpoint must be an http:// URL: " + url);
    std::string rest = url.substr(7);
    S3Endpoint e;
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    if (slash != std::string::npos) e.base_path = rest.substr(slash);
    while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
    auto colon = authority.rfind(':');
    if (colon != std::string::npos && authority.find(']') == std::string::npos) {
        e.port = authority.substr(colon + 1);
        authority.resize(colon);
    }
    e.host = authority;
    if (e.host.empty() || e.port.empty() ||
        e.port.find_first_not_of("0123456789") != std::string::npos)
        return fail(ErrorCode::Service,
                    "--s3-endpoint is not a valid http://host[:port] URL: " + url);
    return e;
}

RemoteObjectSource::RemoteObjectSource(S3Endpoint endpoint, RemoteCredentials credentials,
                                       std::string region, std::chrono::seconds timeout)
    : endpoint_(std::move(endpoint)),
      credentials_(std::move(credentials)),
      region_(std::move(region)),
      timeout_(timeout) {}

std::expected<std::string, GetObjectFailure> RemoteObjectSource::get_object(
    const std::string& /*account*/, const std::string& region, const std::string& bucket,
    const std::string& key, const std::optional<std::string>& version) {
    std::string path = endpoint_.base_path + "/" + bucket + "/" + key;
    SigV4Request s;
    s.canonical_uri = url_encode(path, true);
    if (version) s.canonical_query = "versionId=" + url_encode(*version);
    s.host = endpoint_.port == "80" ? endpoint_.host : endpoint_.host + ":" + endpoint_.port;
    s.payload_hash = to_hex(sha256(""));
    s.amz_date = amz_now();
    s.region = region.empty() ? region_ : region;
    s.access_key_id = credentials_.access_key_id;
    s.secret_access_key = credentials_.secret_access_key;
    if (!credentials_.session_token.empty())
        s.headers.emplace_back("x-amz-security-token", credentials_.session_token);

    bhttp::request<bhttp::empty_body> req{
        bhttp::verb::get,
        s.canonical_uri + (s.canonical_query.empty() ? "" : "?" + s.canonical_query), 11};
    req.set(bhttp::field::host, s.host);
    req.set(bhttp::field::user_agent, "lamina");
    req.set("x-amz-date", s.amz_date);
    req.set("x-amz-content-sha256", s.payload_hash);
    if (!credentials_.session_token.empty())
        req.set("x-amz-security-token", credentials_.session_token);
    req.set(bhttp::field::authorization, sigv4_authorization(s));

    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxObjectBytes);
    boost::system::error_code failure;
    std::string stage = "resolve";
    auto done = [&](boost::system::error_code ec) {
        if (ec) failure = ec;
        return !ec;
    };
    resolver.async_resolve(endpoint_.host, endpoint_.port, [&](auto ec, auto results) {
        if (!done(ec)) return;
        stage = "connect";
        stream.expires_after(timeout_);
        stream.async_connect(results, [&](auto ec2, auto) {
            if (!done(ec2)) return;
            stage = "send";
            bhttp::async_write(stream, req, [&](auto ec3, auto) {
                if (!done(ec3)) return;
                stage = "read";
                bhttp::async_read(stream, buffer, parser, [&](auto ec4, auto) { done(ec4); });
            });
        });
    });
    ioc.run();
    if (failure)
        return std::unexpected(GetObjectFailure{
            "ServiceUnavailable", "lamina could not " + stage + " " + endpoint_.host + ":" +
                                      endpoint_.port + " (--s3-endpoint): " + failure.message()});
    auto res = parser.release();
    if (res.result_int() == 200) return std::move(res.body());
    GetObjectFailure f{"Http" + std::to_string(res.result_int()), std::string(res.reason())};
    // a 403 whose body does not say (a proxy's, a HEAD-like answer) is S3's AccessDenied
    if (res.result_int() == 403) f = GetObjectFailure{"AccessDenied", "Access Denied"};
    if (auto doc = parse_xml(res.body()); doc && doc->name == "Error") {
        if (const XmlNode* c = doc->child("Code")) f.code = c->text;
        if (const XmlNode* m = doc->child("Message")) f.message = m->text;
    }
    return std::unexpected(f);
}

}  // namespace lamina::s3
