// S3 NotificationConfiguration bodies (src/s3/notification.cpp):
// parse_notification_xml over arbitrary bytes, then what a parsed
// configuration is used for: rendering, the JSON it is stored as, matching
// events and keys, and the record S3 delivers.
//
// Input: the request body; its first line, when it starts "key:", is also
// the object key matched and encoded (the body is the rest).
// Checked beyond the sanitizers: a refusal is MalformedXML, InvalidArgument
// or NotImplemented; a parsed configuration renders to XML that parses back
// to the same configuration, survives its JSON form, never overlaps itself,
// and every record built from it is JSON naming the key as record_key says.

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_request.hpp"
#include "lamina/s3/notification.hpp"

namespace {

using namespace lamina;
using namespace lamina::s3;
using fuzz::finding;

bool same(const NotificationConfig& a, const NotificationConfig& b) {
    if (a.targets.size() != b.targets.size()) return false;
    for (std::size_t i = 0; i < a.targets.size(); ++i) {
        const auto &x = a.targets[i], &y = b.targets[i];
        if (x.kind != y.kind || x.id != y.id || x.arn != y.arn || x.events != y.events ||
            x.rules.size() != y.rules.size())
            return false;
        for (std::size_t r = 0; r < x.rules.size(); ++r)
            if (x.rules[r].name != y.rules[r].name || x.rules[r].value != y.rules[r].value)
                return false;
    }
    return true;
}

// Rendered XML lists queues first; compare in that order.
NotificationConfig queues_first(const NotificationConfig& c) {
    NotificationConfig out;
    for (TargetKind k : {TargetKind::Queue, TargetKind::Lambda})
        for (const auto& t : c.targets)
            if (t.kind == k) out.targets.push_back(t);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string key = "in/a b.txt";
    if (in.starts_with("key:")) {
        std::string_view line = fuzz::next_line(in);
        key = std::string(line.substr(4));
    }
    int n = 0;
    auto ids = [&n] { return "id-" + std::to_string(++n); };
    auto config = parse_notification_xml(in, ids);
    if (!config) {
        auto c = config.error().code;
        if (c != S3ErrorCode::MalformedXML && c != S3ErrorCode::InvalidArgument &&
            c != S3ErrorCode::NotImplemented)
            finding("unexpected error code", s3_message(config.error()));
        return 0;
    }
    std::string xml = render_notification_xml(*config);
    auto again = parse_notification_xml(xml, ids);
    if (!again) finding("rendered XML refused", s3_message(again.error()) + ": " + xml);
    if (!same(*again, queues_first(*config))) finding("rendered XML parses differently", xml);
    auto stored = notification_from_json(notification_to_json(*config));
    if (!stored || !same(*stored, *config)) finding("JSON form differs", xml);
    ObjectEvent e;
    e.region = "us-east-1";
    e.bucket = "b";
    e.key = key;
    e.size = 1;
    e.etag = "e";
    for (const char* name :
         {"ObjectCreated:Put", "ObjectCreated:CompleteMultipartUpload", "ObjectRemoved:Delete"}) {
        e.event_name = name;
        for (const auto& t : config->targets) {
            if (!matches(t, name, key)) continue;
            auto j = nlohmann::json::parse(event_record(e, t.id), nullptr, false);
            if (j.is_discarded() || j["Records"][0]["s3"]["object"]["key"] != record_key(key))
                finding("record is not JSON naming the encoded key", key);
        }
    }
    return 0;
}
