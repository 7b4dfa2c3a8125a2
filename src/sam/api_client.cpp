#include "lamina/sam/api_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <regex>

#include "lamina/api/service.hpp"
#include "lamina/api/sigv4.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"

namespace lamina::sam {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

nlohmann::json ApiReply::json() const {
    if (body.empty()) return nullptr;
    auto j = nlohmann::json::parse(body, nullptr, false);
    return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

namespace {

// The text of S3's <name>...</name> in an XML error body, "" when absent.
std::string xml_element(const std::string& body, const std::string& name) {
    auto open = body.find("<" + name + ">");
    if (open == std::string::npos) return {};
    open += name.size() + 2;
    auto close = body.find("</" + name + ">", open);
    return close == std::string::npos ? std::string() : body.substr(open, close - open);
}

}  // namespace

std::string ApiReply::error_type() const {
    if (!error_type_header.empty()) return error_type_header.substr(0, error_type_header.find(':'));
    if (auto code = xml_element(body, "Code"); !code.empty()) return code;
    auto j = json();
    if (j.is_object() && j.contains("__type") && j["__type"].is_string())
        return j["__type"].get<std::string>();
    return "HTTP " + std::to_string(status);
}

std::string ApiReply::error_text() const {
    auto j = json();
    std::string message;
    if (j.is_object()) {
        for (const char* k : {"message", "Message", "errorMessage"})
            if (j.contains(k) && j[k].is_string()) message = j[k].get<std::string>();
    }
    if (message.empty()) message = xml_element(body, "Message");
    if (message.empty()) message = body.substr(0, 300);
    std::string type = error_type();
    auto colon = type.rfind('#');
    if (colon != std::string::npos) type = type.substr(colon + 1);
    return type + ": " + message;
}

std::string path_segment(const std::string& s) { return url_encode(s); }

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

http::Request make_request(const ApiCall& c, const std::string& host) {
    http::Request req;
    req.method = c.method;
    req.target = c.target;
    http::parse_target(c.target, req.path, req.query);
    req.headers.set("Host", host);
    if (!c.body.empty() || c.method == "POST" || c.method == "PUT")
        req.headers.set("Content-Type", c.content_type);
    req.headers.set("User-Agent", "lamina-deploy");
    for (const auto& [k, v] : c.headers) req.headers.set(k, v);
    req.body = c.body;
    req.remote_address = "127.0.0.1";
    return req;
}

class ServiceClient final : public ApiClient {
public:
    ServiceClient(api::Service& service, std::string region, std::optional<SigningKey> key,
                  std::string host)
        : service_(service),
          region_(std::move(region)),
          key_(std::move(key)),
          host_(std::move(host)) {}

    Result<ApiReply> send(const ApiCall& c) override {
        auto req = make_request(c, host_);
        if (key_)
            api::sign_sigv4(req, key_->access_key_id, key_->secret_access_key, region_, c.service,
                            now_ms());
        auto resp = service_.dispatch(std::move(req));
        return ApiReply{resp.status, std::move(resp.body), resp.headers.get("x-amzn-ErrorType")};
    }
    const std::string& region() const override { return region_; }

private:
    api::Service& service_;
    std::string region_;
    std::optional<SigningKey> key_;
    std::string host_;
};

class HttpClient final : public ApiClient {
public:
    HttpClient(std::string host, std::string port, std::string region,
               std::optional<SigningKey> key)
        : host_(std::move(host)),
          port_(std::move(port)),
          region_(std::move(region)),
          key_(std::move(key)) {}

    Result<ApiReply> send(const ApiCall& c) override {
        // one retry on a fresh connection: the server may have closed an idle one
        for (int attempt = 0;; ++attempt) {
            try {
                return exchange(c);
            } catch (const std::exception& e) {
                stream_.reset();
                if (attempt == 1)
                    return fail(ErrorCode::Service, "cannot reach lamina at http://" + host_ + ":" +
                                                        port_ + ": " + e.what());
            }
        }
    }
    const std::string& region() const override { return region_; }

private:
    ApiReply exchange(const ApiCall& c) {
        if (!stream_) {
            stream_ = std::make_unique<beast::tcp_stream>(ioc_);
            tcp::resolver resolver(ioc_);
            stream_->expires_after(std::chrono::seconds(10));
            stream_->connect(resolver.resolve(host_, port_));
        }
        std::string host_header = host_ + ":" + port_;
        auto req = make_request(c, host_header);
        if (key_)
            api::sign_sigv4(req, key_->access_key_id, key_->secret_access_key, region_, c.service,
                            now_ms());
        bhttp::request<bhttp::string_body> out{bhttp::string_to_verb(c.method), c.target, 11};
        for (const auto& [k, v] : req.headers.items) out.set(k, v);
        out.body() = c.body;
        out.prepare_payload();
        out.keep_alive(true);
        stream_->expires_after(std::chrono::seconds(120));
        bhttp::write(*stream_, out);
        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(256 * 1024 * 1024);
        bhttp::read(*stream_, buffer, parser);
        auto res = parser.release();
        if (!res.keep_alive()) stream_.reset();
        std::string type(res["x-amzn-ErrorType"]);
        return ApiReply{res.result_int(), std::move(res.body()), std::move(type)};
    }

    boost::asio::io_context ioc_;
    std::unique_ptr<beast::tcp_stream> stream_;
    std::string host_, port_, region_;
    std::optional<SigningKey> key_;
};

}  // namespace

std::unique_ptr<ApiClient> make_service_client(api::Service& service, std::string region,
                                               std::optional<SigningKey> key, std::string host) {
    return std::make_unique<ServiceClient>(service, std::move(region), std::move(key),
                                           std::move(host));
}

Result<std::unique_ptr<ApiClient>> make_http_client(const std::string& endpoint, std::string region,
                                                    std::optional<SigningKey> key) {
    static const std::regex kEndpoint(
        R"(http://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?/?)");
    std::smatch m;
    if (!regex_full_match(endpoint, m, kEndpoint))
        return fail(
            ErrorCode::InvalidParameterValue,
            "--endpoint must look like http://127.0.0.1:9001 (lamina speaks plain HTTP), got " +
                endpoint);
    std::string host = m[1].str();
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    std::string port = m[2].matched ? m[2].str() : "80";
    return std::unique_ptr<ApiClient>(
        std::make_unique<HttpClient>(host, port, std::move(region), std::move(key)));
}

}  // namespace lamina::sam
