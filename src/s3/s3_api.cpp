#include "lamina/s3/s3_api.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <regex>
#include <set>

#include "lamina/common/clock.hpp"
#include "lamina/common/encoding.hpp"
#include "lamina/common/log.hpp"
#include "lamina/common/regex.hpp"
#include "lamina/s3/address.hpp"
#include "lamina/s3/aws_chunked.hpp"
#include "lamina/s3/xml.hpp"

namespace lamina::s3 {

namespace {

constexpr const char* kXmlns = "http://s3.amazonaws.com/doc/2006-03-01/";
constexpr std::uint64_t kSmallBodyLimit = 8ull * 1024 * 1024;

std::string element(const std::string& name, const std::string& text) {
    return "<" + name + ">" + xml_escape(text) + "</" + name + ">";
}

http::Response xml_response(unsigned status, std::string body, const S3Context& ctx) {
    http::Response r;
    r.status = status;
    r.headers.set("Content-Type", "application/xml");
    r.headers.set("x-amz-request-id", ctx.request_id);
    r.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + std::move(body);
    return r;
}

http::Response empty_response(unsigned status, const S3Context& ctx) {
    http::Response r;
    r.status = status;
    r.headers.set("x-amz-request-id", ctx.request_id);
    return r;
}

std::string owner_xml(const std::string& account) {
    return "<Owner>" + element("ID", to_hex(sha256(account))) + element("DisplayName", account) +
           "</Owner>";
}

// The body as sent, decoded from aws-chunked when it is, and checked against
// every digest the client gave (x-amz-content-sha256, Content-MD5,
// x-amz-checksum-crc32 in a header or a trailer).
struct Payload {
    bool chunked = false;
    std::string decoded;   // the payload, when the body was aws-chunked
    std::string_view raw;  // the request body otherwise
    std::string crc32;     // the client's CRC32, checked
    // (a view into `decoded` would not survive moving the Payload)
    std::string_view bytes() const { return chunked ? std::string_view(decoded) : raw; }
};

S3Result<Payload> read_payload(const S3Context& ctx, const http::Request& req) {
    Payload p;
    std::string sha = req.headers.get("x-amz-content-sha256");
    std::string encoding = ascii_lower(req.headers.get("Content-Encoding"));
    std::map<std::string, std::string> trailers;
    if (is_streaming_payload(sha) || encoding.find("aws-chunked") != std::string::npos) {
        auto chunked = decode_aws_chunked(req.body);
        if (!chunked)
            return s3_fail(
                S3ErrorCode::IncompleteBody, {},
                "The aws-chunked request body is malformed (chunk sizes and CRLFs do not add up).");
        // Signed chunks are checked when lamina checked the request's own
        // signature (the seed); an unsigned-payload stream has none.
        bool signed_chunks = sha == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" ||
                             sha == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
        if (signed_chunks && ctx.seed &&
            !verify_chunk_signatures(*chunked, *ctx.seed, sha.ends_with("-TRAILER")))
            return s3_fail(S3ErrorCode::SignatureDoesNotMatch);
        if (auto declared = req.headers.find("x-amz-decoded-content-length")) {
            if (*declared != std::to_string(chunked->data.size()))
                return s3_fail(S3ErrorCode::IncompleteBody, {},
                               "You did not provide the number of bytes specified by the "
                               "x-amz-decoded-content-length HTTP header");
        }
        p.chunked = true;
        p.decoded = std::move(chunked->data);
        trailers = std::move(chunked->trailers);
    } else {
        p.raw = req.body;
        static const std::regex kHex64("[0-9a-f]{64}");
        if (regex_full_match(sha, kHex64) && to_hex(sha256(p.raw)) != sha)
            return s3_fail(S3ErrorCode::XAmzContentSHA256Mismatch,
                           {{"ClientComputedContentSHA256", sha},
                            {"S3ComputedContentSHA256", to_hex(sha256(p.raw))}});
    }
    if (auto md5_header = req.headers.find("Content-MD5")) {
        auto given = base64_decode(*md5_header);
        if (!given || given->size() != 16)
            return s3_fail(S3ErrorCode::InvalidArgument, {},
                           "The Content-MD5 you specified was invalid.");
        if (*given != md5(p.bytes())) return s3_fail(S3ErrorCode::BadDigest);
    }
    std::string crc = req.headers.get("x-amz-checksum-crc32");
    if (auto t = trailers.find("x-amz-checksum-crc32"); t != trailers.end()) crc = t->second;
    if (!crc.empty()) {
        if (crc != crc32_base64(p.bytes()))
            return s3_fail(S3ErrorCode::BadDigest, {},
                           "The CRC32 you specified did not match the calculated checksum.");
        p.crc32 = crc;
    }
    if (p.bytes().size() > kMaxObjectBytes)
        return s3_fail(S3ErrorCode::EntityTooLarge,
                       {{"ProposedSize", std::to_string(p.bytes().size())},
                        {"MaxSizeAllowed", std::to_string(kMaxObjectBytes)}},
                       "Your proposed upload exceeds the maximum allowed size (lamina keeps one "
                       "PUT or part in "
                       "memory: at most " +
                           std::to_string(kMaxObjectBytes) + " bytes; use a multipart upload)");
    return p;
}

ObjectWrite object_write(const http::Request& req, const std::string& key) {
    ObjectWrite w;
    w.key = key;
    w.content_type = req.headers.get("Content-Type");
    for (const auto& [name, value] : req.headers.items) {
        std::string n = ascii_lower(name);
        if (n.rfind("x-amz-meta-", 0) == 0) w.metadata[n.substr(11)] = value;
    }
    for (const char* h : {"Cache-Control", "Content-Disposition", "Content-Language", "Expires"})
        if (auto v = req.headers.find(h)) w.headers[h] = *v;
    // aws-chunked is how the body travelled, not how the object is encoded
    if (auto v = req.headers.find("Content-Encoding")) {
        std::string kept;
        std::size_t start = 0;
        while (start <= v->size()) {
            auto comma = v->find(',', start);
            std::string part =
                v->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            part.erase(0, part.find_first_not_of(' '));
            part.erase(part.find_last_not_of(' ') + 1);
            if (!part.empty() && ascii_lower(part) != "aws-chunked")
                kept += (kept.empty() ? "" : ",") + part;
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        if (!kept.empty()) w.headers["Content-Encoding"] = kept;
    }
    return w;
}

void object_headers(http::Response& r, const ObjectInfo& o) {
    r.headers.set("ETag", o.etag);
    r.headers.set("Last-Modified", format_http_date(o.last_modified_ms));
    r.headers.set("Content-Type", o.content_type);
    r.headers.set("Accept-Ranges", "bytes");
    for (const auto& [name, value] : o.headers) r.headers.set(name, value);
    for (const auto& [name, value] : o.metadata) r.headers.set("x-amz-meta-" + name, value);
}

// Query parameters an operation understands; anything else names a
// subresource lamina does not implement (?acl, ?tagging, ?versioning...).
bool is_signing_param(const std::string& k) { return k.rfind("X-Amz-", 0) == 0 || k == "x-id"; }

std::optional<std::string> unsupported_param(const http::Request& req,
                                             std::initializer_list<const char*> allowed) {
    for (const auto& [k, v] : req.query) {
        if (is_signing_param(k) || k.rfind("response-", 0) == 0) continue;
        if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; }))
            return k;
    }
    return std::nullopt;
}

std::unexpected<S3Error> not_implemented(const std::string& what) {
    return s3_fail(S3ErrorCode::NotImplemented, {},
                   "lamina does not implement " + what + " of Amazon S3.");
}

S3Result<int> int_param(const http::Request& req, const char* name, int fallback, int lo, int hi,
                        const std::string& message) {
    auto v = req.query_param(name);
    if (!v) return fallback;
    int n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (v->empty() || ec != std::errc() || end != v->data() + v->size() || n < lo || n > hi)
        return s3_fail(S3ErrorCode::InvalidArgument,
                       {{"ArgumentName", name}, {"ArgumentValue", *v}}, message);
    return n;
}

S3Result<http::Response> list_objects(ObjectStore& store, const S3Context& ctx,
                                      const http::Request& req, const std::string& bucket) {
    bool v2 = req.query_param("list-type").value_or("") == "2";
    if (auto p =
            unsupported_param(req, {"list-type", "prefix", "delimiter", "max-keys", "encoding-type",
                                    "marker", "continuation-token", "start-after", "fetch-owner"}))
        return not_implemented("the bucket subresource ?" + *p);
    auto max_keys = int_param(req, "max-keys", 1000, 0, 2147483647,
                              "Provided max-keys not an integer or within integer range");
    if (!max_keys) return std::unexpected(max_keys.error());
    std::string encoding = req.query_param("encoding-type").value_or("");
    if (!encoding.empty() && encoding != "url")
        return s3_fail(S3ErrorCode::InvalidArgument,
                       {{"ArgumentName", "encoding-type"}, {"ArgumentValue", encoding}},
                       "Invalid Encoding Method specified in Request");
    bool url = encoding == "url";
    auto enc = [&](const std::string& s) { return url ? url_encode(s, true) : s; };
    ListQuery q;
    q.prefix = req.query_param("prefix").value_or("");
    q.delimiter = req.query_param("delimiter").value_or("");
    q.max_keys = std::min(*max_keys, 1000);
    std::string token = req.query_param("continuation-token").value_or("");
    std::string start_after = req.query_param("start-after").value_or("");
    std::string marker = req.query_param("marker").value_or("");
    if (v2) {
        q.after = start_after;
        if (req.query_param("continuation-token")) {
            auto decoded = base64_decode(token);
            if (token.empty() || !decoded || decoded->rfind("lamina:", 0) != 0)
                return s3_fail(S3ErrorCode::InvalidArgument,
                               {{"ArgumentName", "continuation-token"}, {"ArgumentValue", token}},
                               "The continuation token provided is incorrect");
            q.after = std::max(q.after, decoded->substr(7));
        }
    } else {
        q.after = marker;
    }
    auto result = store.list_objects(bucket, q);
    if (!result) return std::unexpected(result.error());
    bool owner = !v2 || req.query_param("fetch-owner").value_or("") == "true";
    std::string body = std::string("<ListBucketResult xmlns=\"") + kXmlns + "\">" +
                       element("Name", bucket) + element("Prefix", enc(q.prefix));
    if (v2) {
        if (req.query_param("continuation-token")) body += element("ContinuationToken", token);
        if (!start_after.empty()) body += element("StartAfter", enc(start_after));
        body += element("KeyCount",
                        std::to_string(result->contents.size() + result->common_prefixes.size()));
    } else {
        body += element("Marker", enc(marker));
    }
    body += element("MaxKeys", std::to_string(*max_keys));
    if (!q.delimiter.empty()) body += element("Delimiter", enc(q.delimiter));
    if (url) body += element("EncodingType", "url");
    body += element("IsTruncated", result->truncated ? "true" : "false");
    if (result->truncated) {
        if (v2)
            body += element("NextContinuationToken", base64_encode("lamina:" + result->last));
        else
            body += element("NextMarker", enc(result->last));
    }
    for (const auto& o : result->contents) {
        body += "<Contents>" + element("Key", enc(o.key)) +
                element("LastModified", format_iso8601_ms(o.last_modified_ms)) +
                element("ETag", o.etag) + element("Size", std::to_string(o.size));
        if (owner) body += owner_xml(store.head_bucket(bucket).value_or(BucketInfo{}).owner);
        body += element("StorageClass", "STANDARD") + "</Contents>";
    }
    for (const auto& p : result->common_prefixes)
        body += "<CommonPrefixes>" + element("Prefix", enc(p)) + "</CommonPrefixes>";
    body += "</ListBucketResult>";
    return xml_response(200, std::move(body), ctx);
}

S3Result<http::Response> delete_objects(S3Api& api, ObjectStore& store, const S3Context& ctx,
                                        const http::Request& req, const std::string& bucket) {
    auto payload = read_payload(ctx, req);
    if (!payload) return std::unexpected(payload.error());
    auto doc = parse_xml(payload->bytes());
    if (!doc || doc->name != "Delete") return s3_fail(S3ErrorCode::MalformedXML);
    auto objects = doc->children_named("Object");
    if (objects.empty() || objects.size() > 1000) return s3_fail(S3ErrorCode::MalformedXML);
    std::vector<std::string> keys;
    for (const auto* o : objects) {
        const XmlNode* k = o->child("Key");
        if (!k) return s3_fail(S3ErrorCode::MalformedXML);
        keys.push_back(k->text);
    }
    bool quiet = doc->child("Quiet") && doc->child("Quiet")->text == "true";
    if (auto b = store.head_bucket(bucket); !b) return std::unexpected(b.error());
    std::string body = std::string("<DeleteResult xmlns=\"") + kXmlns + "\">";
    for (const auto& key : keys) {
        auto r = store.delete_object(bucket, key);
        if (r) {
            api.object_event(ctx, req, bucket, "ObjectRemoved:Delete", key, nullptr);
            if (!quiet) body += "<Deleted>" + element("Key", key) + "</Deleted>";
        } else {
            body += "<Error>" + element("Key", key) +
                    element("Code", s3_code_name(r.error().code)) +
                    element("Message", s3_message(r.error())) + "</Error>";
        }
    }
    body += "</DeleteResult>";
    return xml_response(200, std::move(body), ctx);
}

S3Result<http::Response> bucket_operation(S3Api& api, ObjectStore& store, const S3Context& ctx,
                                          const http::Request& req, const std::string& bucket) {
    const std::string& m = req.method;
    if (req.query_param("notification")) {
        if (auto p = unsupported_param(req, {"notification"}))
            return not_implemented("the bucket subresource ?" + *p);
        std::string body;
        if (m == "PUT") {
            if (auto b = store.head_bucket(bucket); !b) return std::unexpected(b.error());
            auto payload = read_payload(ctx, req);
            if (!payload) return std::unexpected(payload.error());
            body = payload->bytes();
        }
        auto xml = api.notification_request(ctx, req, bucket, body);
        if (!xml) return std::unexpected(xml.error());
        if (*xml) return xml_response(200, std::move(**xml), ctx);
        return empty_response(200, ctx);
    }
    if (m == "PUT") {
        if (auto p = unsupported_param(req, {}))
            return not_implemented("the bucket subresource ?" + *p);
        if (!valid_bucket_name(bucket))
            return s3_fail(S3ErrorCode::InvalidBucketName, {{"BucketName", bucket}});
        std::string region = ctx.region;
        auto payload = read_payload(ctx, req);
        if (!payload) return std::unexpected(payload.error());
        std::string body(payload->bytes());
        if (body.find_first_not_of(" \t\r\n") != std::string::npos) {
            auto doc = parse_xml(body);
            if (!doc || doc->name != "CreateBucketConfiguration")
                return s3_fail(S3ErrorCode::MalformedXML);
            if (const XmlNode* lc = doc->child("LocationConstraint"); lc && !lc->text.empty())
                region = lc->text == "EU" ? "eu-west-1" : lc->text;
        }
        auto created = store.create_bucket(bucket, region, ctx.account);
        if (!created) return std::unexpected(created.error());
        // us-east-1 answers 200 to its owner re-creating a bucket (legacy), other regions 409
        if (!*created && region != "us-east-1")
            return s3_fail(S3ErrorCode::BucketAlreadyOwnedByYou, {{"BucketName", bucket}});
        auto r = empty_response(200, ctx);
        r.headers.set("Location", "/" + bucket);
        return r;
    }
    if (m == "HEAD") {
        auto info = store.head_bucket(bucket);
        if (!info) return std::unexpected(info.error());
        auto r = empty_response(200, ctx);
        r.headers.set("x-amz-bucket-region", info->region);
        return r;
    }
    if (m == "DELETE") {
        if (auto p = unsupported_param(req, {}))
            return not_implemented("the bucket subresource ?" + *p);
        if (auto ok = store.delete_bucket(bucket); !ok) return std::unexpected(ok.error());
        return empty_response(204, ctx);
    }
    if (m == "GET") {
        if (req.query_param("location")) {
            auto info = store.head_bucket(bucket);
            if (!info) return std::unexpected(info.error());
            std::string region = info->region == "us-east-1" ? "" : info->region;
            return xml_response(200,
                                std::string("<LocationConstraint xmlns=\"") + kXmlns + "\">" +
                                    xml_escape(region) + "</LocationConstraint>",
                                ctx);
        }
        return list_objects(store, ctx, req, bucket);
    }
    if (m == "POST" && req.query_param("delete"))
        return delete_objects(api, store, ctx, req, bucket);
    return s3_fail(S3ErrorCode::MethodNotAllowed, {{"Method", m}, {"ResourceType", "BUCKET"}});
}

S3Result<std::vector<PartRef>> read_complete_xml(const std::string& body) {
    auto doc = parse_xml(body);
    if (!doc || doc->name != "CompleteMultipartUpload") return s3_fail(S3ErrorCode::MalformedXML);
    std::vector<PartRef> parts;
    for (const XmlNode* p : doc->children_named("Part")) {
        const XmlNode* number = p->child("PartNumber");
        const XmlNode* etag = p->child("ETag");
        if (!number || !etag) return s3_fail(S3ErrorCode::MalformedXML);
        int n = 0;
        const std::string& t = number->text;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size())
            return s3_fail(S3ErrorCode::MalformedXML);
        if (n < 1 || n > kMaxPartNumber) return s3_fail(S3ErrorCode::InvalidPart);
        parts.push_back(PartRef{n, etag->text});
    }
    if (parts.empty()) return s3_fail(S3ErrorCode::MalformedXML);
    return parts;
}

S3Result<http::Response> object_operation(S3Api& api, ObjectStore& store, const S3Context& ctx,
                                          const http::Request& req, const std::string& bucket,
                                          const std::string& key) {
    const std::string& m = req.method;
    if (key.size() > kMaxKeyBytes)
        return s3_fail(S3ErrorCode::KeyTooLongError,
                       {{"Size", std::to_string(key.size())}, {"MaxSizeAllowed", "1024"}});
    auto upload_id = req.query_param("uploadId");
    if (auto v = req.query_param("versionId"); v && *v != "null")
        return s3_fail(S3ErrorCode::NoSuchVersion, {{"Key", key}, {"VersionId", *v}});
    if (m == "PUT") {
        if (auto p = unsupported_param(req, {"partNumber", "uploadId", "versionId"}))
            return not_implemented("the object subresource ?" + *p);
        if (req.headers.find("x-amz-copy-source"))
            return not_implemented(upload_id ? "UploadPartCopy" : "CopyObject (x-amz-copy-source)");
        if (upload_id) {
            auto part = int_param(req, "partNumber", 0, 1, kMaxPartNumber,
                                  "Part number must be an integer between 1 and 10000, inclusive");
            if (!part) return std::unexpected(part.error());
            if (!req.query_param("partNumber"))
                return s3_fail(S3ErrorCode::InvalidArgument, {},
                               "Part number must be an integer between 1 and 10000, inclusive");
            if (auto b = store.head_bucket(bucket); !b) return std::unexpected(b.error());
            auto payload = read_payload(ctx, req);
            if (!payload) return std::unexpected(payload.error());
            auto etag = store.upload_part(bucket, key, *upload_id, *part, payload->bytes());
            if (!etag) return std::unexpected(etag.error());
            auto r = empty_response(200, ctx);
            r.headers.set("ETag", *etag);
            if (!payload->crc32.empty()) r.headers.set("x-amz-checksum-crc32", payload->crc32);
            return r;
        }
        if (req.query_param("partNumber"))
            return s3_fail(S3ErrorCode::InvalidRequest, {}, "A partNumber needs an uploadId.");
        if (auto b = store.head_bucket(bucket); !b) return std::unexpected(b.error());
        auto payload = read_payload(ctx, req);
        if (!payload) return std::unexpected(payload.error());
        ObjectWrite w = object_write(req, key);
        w.checksum_crc32 = payload->crc32;
        auto info = store.put_object(bucket, w, payload->bytes());
        if (!info) return std::unexpected(info.error());
        api.object_event(ctx, req, bucket, "ObjectCreated:Put", key, &*info);
        auto r = empty_response(200, ctx);
        r.headers.set("ETag", info->etag);
        if (!payload->crc32.empty()) r.headers.set("x-amz-checksum-crc32", payload->crc32);
        return r;
    }
    if (m == "GET" || m == "HEAD") {
        if (auto p = unsupported_param(req, {"versionId", "partNumber"}))
            return not_implemented("the object subresource ?" + *p);
        if (req.query_param("partNumber")) return not_implemented("GetObject by partNumber");
        std::optional<ByteRange> range;
        if (auto h = req.headers.find("Range")) range = parse_range(*h);
        http::Response r;
        const ObjectInfo* info = nullptr;
        std::optional<ObjectRead> read;
        std::optional<ObjectInfo> head;
        if (m == "GET") {
            auto got = store.get_object(bucket, key, range);
            if (!got) return std::unexpected(got.error());
            read = std::move(*got);
            info = &read->info;
            r.status = read->partial ? 206 : 200;
            if (read->partial)
                r.headers.set("Content-Range",
                              "bytes " + std::to_string(read->offset) + "-" +
                                  std::to_string(read->offset + read->data.size() - 1) + "/" +
                                  std::to_string(info->size));
        } else {
            auto got = store.head_object(bucket, key);
            if (!got) return std::unexpected(got.error());
            head = std::move(*got);
            info = &*head;
            r.status = 200;
            r.headers.set("Content-Length", std::to_string(info->size));
        }
        r.headers.set("x-amz-request-id", ctx.request_id);
        object_headers(r, *info);
        for (const auto& [k, v] : req.query) {  // response-content-type=... overrides
            static const std::map<std::string, std::string> kOverrides = {
                {"response-content-type", "Content-Type"},
                {"response-content-language", "Content-Language"},
                {"response-expires", "Expires"},
                {"response-cache-control", "Cache-Control"},
                {"response-content-disposition", "Content-Disposition"},
                {"response-content-encoding", "Content-Encoding"}};
            if (auto o = kOverrides.find(k); o != kOverrides.end()) r.headers.set(o->second, v);
        }
        bool whole = !read || !read->partial;
        if (whole && !info->checksum_crc32.empty() &&
            ascii_lower(req.headers.get("x-amz-checksum-mode")) == "enabled")
            r.headers.set("x-amz-checksum-crc32", info->checksum_crc32);
        if (read) r.body = std::move(read->data);
        return r;
    }
    if (m == "DELETE") {
        if (auto p = unsupported_param(req, {"uploadId", "versionId"}))
            return not_implemented("the object subresource ?" + *p);
        if (upload_id) {
            if (auto ok = store.abort_upload(bucket, key, *upload_id); !ok)
                return std::unexpected(ok.error());
            return empty_response(204, ctx);
        }
        if (auto ok = store.delete_object(bucket, key); !ok) return std::unexpected(ok.error());
        api.object_event(ctx, req, bucket, "ObjectRemoved:Delete", key, nullptr);
        return empty_response(204, ctx);
    }
    if (m == "POST") {
        if (req.query_param("uploads")) {
            if (auto p = unsupported_param(req, {"uploads"}))
                return not_implemented("the object subresource ?" + *p);
            auto id = store.create_upload(bucket, object_write(req, key));
            if (!id) return std::unexpected(id.error());
            auto r = xml_response(200,
                                  std::string("<InitiateMultipartUploadResult xmlns=\"") + kXmlns +
                                      "\">" + element("Bucket", bucket) + element("Key", key) +
                                      element("UploadId", *id) + "</InitiateMultipartUploadResult>",
                                  ctx);
            if (auto alg = req.headers.find("x-amz-checksum-algorithm"))
                r.headers.set("x-amz-checksum-algorithm", *alg);
            return r;
        }
        if (upload_id) {
            if (auto p = unsupported_param(req, {"uploadId"}))
                return not_implemented("the object subresource ?" + *p);
            if (auto b = store.head_bucket(bucket); !b) return std::unexpected(b.error());
            auto payload = read_payload(ctx, req);
            if (!payload) return std::unexpected(payload.error());
            auto parts = read_complete_xml(std::string(payload->bytes()));
            if (!parts) return std::unexpected(parts.error());
            auto info = store.complete_upload(bucket, key, *upload_id, *parts);
            if (!info) return std::unexpected(info.error());
            api.object_event(ctx, req, bucket, "ObjectCreated:CompleteMultipartUpload", key,
                             &*info);
            std::string location =
                "http://" + req.headers.get("Host") + "/" + bucket + "/" + url_encode(key, true);
            return xml_response(200,
                                std::string("<CompleteMultipartUploadResult xmlns=\"") + kXmlns +
                                    "\">" + element("Location", location) +
                                    element("Bucket", bucket) + element("Key", key) +
                                    element("ETag", info->etag) +
                                    "</CompleteMultipartUploadResult>",
                                ctx);
        }
        return not_implemented("POST on an object without ?uploads or ?uploadId");
    }
    return s3_fail(S3ErrorCode::MethodNotAllowed, {{"Method", m}, {"ResourceType", "OBJECT"}});
}

}  // namespace

std::string signing_service(const http::Headers& headers,
                            const std::multimap<std::string, std::string>& query) {
    std::string cred;
    std::string auth = headers.get("Authorization");
    if (auto pos = auth.find("Credential="); pos != std::string::npos) {
        pos += 11;
        cred = auth.substr(pos, auth.find_first_of(", ", pos) - pos);
    } else if (auto q = query.find("X-Amz-Credential"); q != query.end()) {
        cred = q->second;
    }
    // AKID/DATE/REGION/SERVICE/aws4_request
    std::size_t start = 0;
    for (int i = 0; i < 3; ++i) {
        start = cred.find('/', start);
        if (start == std::string::npos) return {};
        ++start;
    }
    return cred.substr(start, cred.find('/', start) - start);
}

std::string signing_service(const http::Request& req) {
    return signing_service(req.headers, req.query);
}

S3Error auth_error(const Error& error) {
    switch (error.code) {
        case ErrorCode::UnrecognizedClient:
            return S3Error{S3ErrorCode::InvalidAccessKeyId, {}, {}};
        case ErrorCode::InvalidSignature:
            if (error.message.rfind("Signature expired", 0) == 0)
                return S3Error{S3ErrorCode::AccessDenied, "Request has expired", {}};
            return S3Error{S3ErrorCode::SignatureDoesNotMatch, {}, {}};
        case ErrorCode::IncompleteSignature:
            return S3Error{S3ErrorCode::InvalidRequest, error.message, {}};
        default:
            return S3Error{S3ErrorCode::AccessDenied, {}, {}};
    }
}

std::optional<ByteRange> parse_range(const std::string& header) {
    static const std::regex kRange(R"(\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*)");
    std::smatch m;
    if (!regex_full_match(header, m, kRange)) return std::nullopt;
    auto num = [](const std::string& s) -> std::optional<std::uint64_t> {
        if (s.empty() || s.size() > 19) return std::nullopt;
        return std::stoull(s);
    };
    ByteRange r;
    r.text = header;
    auto a = num(m[1].str()), b = num(m[2].str());
    if (!a && !b) return std::nullopt;
    if (!a) {
        r.suffix = b;
    } else {
        r.first = a;
        r.last = b;
        if (b && *b < *a) return std::nullopt;  // syntactically invalid: ignored, as S3 does
    }
    return r;
}

S3Api::S3Api(ObjectStore& store, std::vector<std::string> host_bases)
    : store_(store), host_bases_(std::move(host_bases)) {}

http::BodyPolicy S3Api::body_policy(const http::RequestHead& head) const {
    http::BodyPolicy p;
    bool upload = head.method == "PUT" || head.method == "POST";
    // aws-chunked framing adds well under 1/32 with the SDKs' 64 KiB chunks
    p.limit = upload ? kMaxObjectBytes + kMaxObjectBytes / 32 : kSmallBodyLimit;
    p.too_large = [](std::uint64_t limit) {
        auto r = s3_error_response(
            S3Error{S3ErrorCode::EntityTooLarge,
                    "Your proposed upload exceeds the maximum allowed size (lamina takes at most " +
                        std::to_string(kMaxObjectBytes) +
                        " bytes per PUT or part; use a multipart upload)",
                    {{"MaxSizeAllowed", std::to_string(limit)}}},
            to_hex(sha256(std::to_string(limit))).substr(0, 16));
        return r;
    };
    return p;
}

http::Response S3Api::handle(const S3Context& ctx, const http::Request& req) {
    bool head = req.method == "HEAD";
    auto address = parse_address(req.headers.get("Host"), req.path, host_bases_);
    if (!address)
        return s3_error_response(
            S3Error{S3ErrorCode::InvalidRequest, "The request path has a bad %-escape.", {}},
            ctx.request_id, head);
    bool bucket_level = address->key.empty() && !(address->virtual_host && req.path.size() > 1);
    // Every request on a bucket but creating it is refused here, before the
    // operation reads anything, when another account owns the bucket; a
    // bucket that does not exist is left to the operation (NoSuchBucket, or
    // its own earlier error, whoever asks).
    bool creates_bucket = bucket_level && req.method == "PUT" && !unsupported_param(req, {});
    if (!address->bucket.empty() && !creates_bucket) {
        auto bucket = store_.bucket_for(address->bucket, ctx.account);
        if (!bucket && bucket.error().code == S3ErrorCode::AccessDenied)
            return s3_error_response(bucket.error(), ctx.request_id, head);
    }
    S3Result<http::Response> result;
    if (address->bucket.empty()) {
        if (req.method != "GET")
            result = s3_fail(S3ErrorCode::MethodNotAllowed,
                             {{"Method", req.method}, {"ResourceType", "SERVICE"}});
        else {
            std::string body = std::string("<ListAllMyBucketsResult xmlns=\"") + kXmlns + "\">" +
                               owner_xml(ctx.account) + "<Buckets>";
            // names are global, but each account lists its own buckets, as in S3
            for (const auto& b : store_.list_buckets()) {
                if (b.owner != ctx.account) continue;
                body += "<Bucket>" + element("Name", b.name) +
                        element("CreationDate", format_iso8601_ms(b.created_ms)) +
                        element("BucketRegion", b.region) + "</Bucket>";
            }
            body += "</Buckets></ListAllMyBucketsResult>";
            result = xml_response(200, std::move(body), ctx);
        }
    } else if (bucket_level) {
        result = bucket_operation(*this, store_, ctx, req, address->bucket);
    } else {
        result = object_operation(*this, store_, ctx, req, address->bucket, address->key);
    }
    if (!result) {
        if (result.error().code == S3ErrorCode::InternalError)
            lamina::logger("api")->error("s3.error request_id={} method={} path={}", ctx.request_id,
                                         req.method, req.path);
        return s3_error_response(result.error(), ctx.request_id, head);
    }
    return std::move(*result);
}

}  // namespace lamina::s3
