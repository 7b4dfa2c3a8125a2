#include "lamina/common/cbor.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

using namespace lamina;
using json = nlohmann::json;

namespace {

std::string hex(std::string_view h) {
    std::string out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
    return out;
}

std::string hex_of(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xf]);
    }
    return out;
}

json decoded(std::string_view h) {
    auto r = cbor::decode(hex(h));
    EXPECT_TRUE(r.has_value()) << h << ": " << (r ? "" : r.error().message);
    return r ? *r : json();
}

std::string rejected(const std::string& bytes) {
    auto r = cbor::decode(bytes);
    EXPECT_FALSE(r.has_value()) << hex_of(bytes) << " decoded to "
                                << (r ? r->dump(-1, ' ', false, json::error_handler_t::replace)
                                      : "");
    if (r) return "";
    EXPECT_EQ(r.error().code, ErrorCode::InvalidRequestContent);
    return r.error().message;
}

// What botocore 1.43 sends for get_metric_statistics(Namespace="AWS/Lambda",
// MetricName="Invocations", Dimensions=[{Name: FunctionName, Value: f}],
// StartTime=2024-01-01T00:00Z, EndTime=+5 min, Period=60, Statistics=["Sum", "Maximum"]) over
// smithy-rpc-v2-cbor.
constexpr const char* kBotocoreGetMetricStatistics =
    "a7694e616d6573706163656a4157532f4c616d6264616a4d65747269634e616d656b496e766f636174696f6e"
    "736a44696d656e73696f6e7381a2644e616d656c46756e6374696f6e4e616d656556616c7565616669537461"
    "727454696d65c11a6592008067456e6454696d65c11a659201ac66506572696f64183c6a5374617469737469"
    "6373826353756d674d6178696d756d";

}  // namespace

TEST(Cbor, DecodesRfc8949Integers) {
    EXPECT_EQ(decoded("00"), 0);
    EXPECT_EQ(decoded("17"), 23);
    EXPECT_EQ(decoded("1818"), 24);
    EXPECT_EQ(decoded("1903e8"), 1000);
    EXPECT_EQ(decoded("1a000f4240"), 1000000);
    EXPECT_EQ(decoded("1b000000e8d4a51000"), 1000000000000);
    EXPECT_EQ(decoded("1bffffffffffffffff").get<std::uint64_t>(), 18446744073709551615ULL);
    EXPECT_EQ(decoded("20"), -1);
    EXPECT_EQ(decoded("3863"), -100);
    EXPECT_EQ(decoded("3903e7"), -1000);
    EXPECT_EQ(decoded("3b7fffffffffffffff").get<std::int64_t>(),
              std::numeric_limits<std::int64_t>::min());
    // below int64's range: kept as a double, not wrapped around
    EXPECT_DOUBLE_EQ(decoded("3bffffffffffffffff").get<double>(), -18446744073709551616.0);
}

TEST(Cbor, DecodesHalfSingleAndDoubleFloats) {
    EXPECT_EQ(decoded("f90000").get<double>(), 0.0);
    EXPECT_TRUE(std::signbit(decoded("f98000").get<double>()));
    EXPECT_EQ(decoded("f93c00").get<double>(), 1.0);
    EXPECT_EQ(decoded("f93e00").get<double>(), 1.5);
    EXPECT_EQ(decoded("f97bff").get<double>(), 65504.0);
    EXPECT_EQ(decoded("f90001").get<double>(), 5.960464477539063e-08);  // smallest subnormal
    EXPECT_EQ(decoded("f90400").get<double>(), 6.103515625e-05);
    EXPECT_EQ(decoded("f9c400").get<double>(), -4.0);
    EXPECT_TRUE(std::isinf(decoded("f97c00").get<double>()));
    EXPECT_TRUE(std::isinf(decoded("f9fc00").get<double>()) && decoded("f9fc00").get<double>() < 0);
    EXPECT_TRUE(std::isnan(decoded("f97e00").get<double>()));
    EXPECT_EQ(decoded("fa47c35000").get<double>(), 100000.0);
    EXPECT_EQ(decoded("fa7f7fffff").get<double>(), 3.4028234663852886e+38);
    EXPECT_EQ(decoded("fb3ff199999999999a").get<double>(), 1.1);
    EXPECT_EQ(decoded("fbc010666666666666").get<double>(), -4.1);
    EXPECT_TRUE(std::isnan(decoded("fb7ff8000000000000").get<double>()));
}

TEST(Cbor, DecodesSimpleValues) {
    EXPECT_EQ(decoded("f4"), false);
    EXPECT_EQ(decoded("f5"), true);
    EXPECT_TRUE(decoded("f6").is_null());
    EXPECT_TRUE(decoded("f7").is_null());  // undefined
}

TEST(Cbor, DecodesStringsArraysAndMaps) {
    EXPECT_EQ(decoded("60"), "");
    EXPECT_EQ(decoded("6161"), "a");
    EXPECT_EQ(decoded("6449455446"), "IETF");
    EXPECT_EQ(decoded("62225c"), "\"\\");
    EXPECT_EQ(decoded("62c3bc"), "\xc3\xbc");
    EXPECT_EQ(decoded("63e6b0b4"), "\xe6\xb0\xb4");
    EXPECT_EQ(decoded("4401020304"), std::string("\x01\x02\x03\x04"));  // byte string, as a string
    EXPECT_EQ(decoded("80"), json::array());
    EXPECT_EQ(decoded("83010203"), json::parse("[1,2,3]"));
    EXPECT_EQ(decoded("8301820203820405"), json::parse("[1,[2,3],[4,5]]"));
    EXPECT_EQ(decoded("a0"), json::object());
    EXPECT_EQ(decoded("a26161016162820203"), json::parse(R"({"a":1,"b":[2,3]})"));
    EXPECT_EQ(decoded("826161a161626163"), json::parse(R"(["a",{"b":"c"}])"));
    json big = decoded("98190102030405060708090a0b0c0d0e0f101112131415161718181819");
    ASSERT_EQ(big.size(), 25u);
    EXPECT_EQ(big[24], 25);
    // duplicate keys: the last one wins
    EXPECT_EQ(decoded("a2616101616102"), json::parse(R"({"a":2})"));
    // a byte-string key is taken as a string
    EXPECT_EQ(decoded("a1416b01"), json::parse(R"({"k":1})"));
}

TEST(Cbor, DecodesIndefiniteLengths) {
    EXPECT_EQ(decoded("5f42010243030405ff"), std::string("\x01\x02\x03\x04\x05"));
    EXPECT_EQ(decoded("7f657374726561646d696e67ff"), "streaming");
    EXPECT_EQ(decoded("7fff"), "");
    EXPECT_EQ(decoded("9fff"), json::array());
    EXPECT_EQ(decoded("9f018202039f0405ffff"), json::parse("[1,[2,3],[4,5]]"));
    EXPECT_EQ(decoded("9f01820203820405ff"), json::parse("[1,[2,3],[4,5]]"));
    EXPECT_EQ(decoded("83018202039f0405ff"), json::parse("[1,[2,3],[4,5]]"));
    EXPECT_EQ(decoded("bf61610161629f0203ffff"), json::parse(R"({"a":1,"b":[2,3]})"));
    EXPECT_EQ(decoded("826161bf61626163ff"), json::parse(R"(["a",{"b":"c"}])"));
    EXPECT_EQ(decoded("bf6346756ef563416d7421ff"), json::parse(R"({"Fun":true,"Amt":-2})"));
}

TEST(Cbor, DecodesTagsEpochTimeAsSeconds) {
    EXPECT_EQ(decoded("c11a514b67b0"), 1363896240);
    EXPECT_EQ(decoded("c1fb41d452d9ec200000").get<double>(), 1363896240.5);
    EXPECT_EQ(decoded("c1f93c00").get<double>(), 1.0);
    // other tags give their content: tag 0 (RFC 3339 text), tag 32 (URI), tag 55799 (self-describe)
    EXPECT_EQ(decoded("c074323031332d30332d32315432303a30343a30305a"), "2013-03-21T20:04:00Z");
    EXPECT_EQ(decoded("d82076687474703a2f2f7777772e6578616d706c652e636f6d"),
              "http://www.example.com");
    EXPECT_EQ(decoded("d9d9f7a0"), json::object());
}

TEST(Cbor, DecodesWhatBotocoreSends) {
    json body = decoded(kBotocoreGetMetricStatistics);
    EXPECT_EQ(body, json::parse(R"({"Namespace":"AWS/Lambda","MetricName":"Invocations",
        "Dimensions":[{"Name":"FunctionName","Value":"f"}],"StartTime":1704067200,"EndTime":1704067500,
        "Period":60,"Statistics":["Sum","Maximum"]})"));
    EXPECT_TRUE(body["Period"].is_number_integer());
}

TEST(Cbor, RejectsEveryTruncation) {
    const std::string full = hex(kBotocoreGetMetricStatistics);
    for (std::size_t n = 0; n < full.size(); ++n) rejected(full.substr(0, n));
    for (const char* h :
         {"18", "19ff", "1aff", "1bffffffffffffff", "6261", "5f41", "5f4101", "9f01", "bf6161",
          "bf616101", "a1", "a16161", "82", "c1", "f9", "fa0000", "fbffffffffffffff", "7f6161"})
        rejected(hex(h));
    EXPECT_NE(rejected("").find("empty input"), std::string::npos);
}

TEST(Cbor, RejectsMalformedItems) {
    EXPECT_NE(rejected(hex("0000")).find("trailing bytes"), std::string::npos);
    EXPECT_NE(rejected(hex("ff")).find("break"), std::string::npos);
    EXPECT_NE(rejected(hex("82ff01")).find("break"), std::string::npos);
    for (const char* h : {"1c", "1d", "1e", "3c", "5c", "7c", "9c", "bc", "dc", "fc", "fd", "fe"})
        EXPECT_NE(rejected(hex(h)).find("reserved"), std::string::npos) << h;
    for (const char* h : {"1f", "3f", "df"}) rejected(hex(h));  // indefinite integers and tags
    // chunks of an indefinite string: definite, same major type
    rejected(hex("5f6161ff"));
    rejected(hex("7f4161ff"));
    rejected(hex("7f7f6161ffff"));
    rejected(hex("5f01ff"));
    // text must be UTF-8
    EXPECT_NE(rejected(hex("62c328")).find("UTF-8"), std::string::npos);
    rejected(hex("61ff"));
    rejected(hex("7f61c361bcff"));  // each chunk on its own
    // map keys are strings
    EXPECT_NE(rejected(hex("a10102")).find("map key"), std::string::npos);
    rejected(hex("a1800102"));
    rejected(hex("bf0102ff"));
    // an indefinite map that ends between key and value
    rejected(hex("bf6161ff"));
    // simple values other than false/true/null/undefined
    rejected(hex("e0"));
    rejected(hex("f0"));
    rejected(hex("f820"));
    rejected(hex("f8ff"));
    // bignums, and tag 1 wrapping anything but a number
    EXPECT_NE(rejected(hex("c249010000000000000000")).find("bignum"), std::string::npos);
    rejected(hex("c349010000000000000000"));
    rejected(hex("c16161"));
    rejected(hex("c1f5"));
    rejected(hex("c1f6"));
}

TEST(Cbor, RejectsLengthsBeyondTheInputWithoutAllocating) {
    for (const char* h :
         {"5bffffffffffffffff", "7bffffffffffffffff", "9bffffffffffffffff", "bbffffffffffffffff",
          "5b7fffffffffffffff", "7a7fffffff", "9a7fffffff", "ba7fffffff", "5f5bffffffffffffffffff",
          "9b00000000000000030102", "a20102"}) {
        std::string message = rejected(hex(h));
        EXPECT_TRUE(message.find("exceeds") != std::string::npos ||
                    message.find("truncated") != std::string::npos)
            << h << ": " << message;
    }
    // a map of n pairs needs at least 2n bytes
    rejected(hex("a3616101616202"));
}

TEST(Cbor, LimitsNestingDepth) {
    auto nested = [](const std::string& open, std::size_t n, const std::string& leaf) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i) s += open;
        return s + leaf;
    };
    EXPECT_TRUE(cbor::decode(nested(hex("81"), cbor::kMaxDepth, hex("00"))).has_value());
    EXPECT_NE(rejected(nested(hex("81"), cbor::kMaxDepth + 1, hex("00"))).find("nesting"),
              std::string::npos);
    EXPECT_TRUE(cbor::decode(nested(hex("a16161"), cbor::kMaxDepth, hex("00"))).has_value());
    rejected(nested(hex("a16161"), cbor::kMaxDepth + 1, hex("00")));
    // deep input far beyond the limit is refused, not a stack overflow
    rejected(nested(hex("9f"), 1000000, ""));
    rejected(nested(hex("bf6161"), 300000, ""));
    rejected(nested(hex("c6"), 1000000, hex("00")));
    rejected(nested(hex("81"), 1000000, hex("00")));
    // a smaller limit on request
    EXPECT_TRUE(cbor::decode(hex("818100"), 2).has_value());
    EXPECT_FALSE(cbor::decode(hex("81818100"), 2).has_value());
}

TEST(Cbor, SurvivesRandomAndMutatedInput) {
    std::mt19937 rng(8949);
    std::uniform_int_distribution<int> byte(0, 255);
    for (int i = 0; i < 200000; ++i) {
        std::string s(static_cast<std::size_t>(rng() % 24), '\0');
        for (auto& c : s) c = static_cast<char>(byte(rng));
        auto r = cbor::decode(s);
        if (r) (void)cbor::encode(*r);  // whatever decodes can be written back
    }
    const std::string valid = hex(kBotocoreGetMetricStatistics);
    for (int i = 0; i < 100000; ++i) {
        std::string s = valid;
        for (int k = 0; k < 3; ++k) s[rng() % s.size()] = static_cast<char>(byte(rng));
        (void)cbor::decode(s);
    }
}

TEST(Cbor, EncodesShortestIntegers) {
    EXPECT_EQ(hex_of(cbor::encode(0)), "00");
    EXPECT_EQ(hex_of(cbor::encode(23)), "17");
    EXPECT_EQ(hex_of(cbor::encode(24)), "1818");
    EXPECT_EQ(hex_of(cbor::encode(255)), "18ff");
    EXPECT_EQ(hex_of(cbor::encode(256)), "190100");
    EXPECT_EQ(hex_of(cbor::encode(65535)), "19ffff");
    EXPECT_EQ(hex_of(cbor::encode(65536)), "1a00010000");
    EXPECT_EQ(hex_of(cbor::encode(4294967295LL)), "1affffffff");
    EXPECT_EQ(hex_of(cbor::encode(4294967296LL)), "1b0000000100000000");
    EXPECT_EQ(hex_of(cbor::encode(18446744073709551615ULL)), "1bffffffffffffffff");
    EXPECT_EQ(hex_of(cbor::encode(-1)), "20");
    EXPECT_EQ(hex_of(cbor::encode(-24)), "37");
    EXPECT_EQ(hex_of(cbor::encode(-25)), "3818");
    EXPECT_EQ(hex_of(cbor::encode(-1000)), "3903e7");
    EXPECT_EQ(hex_of(cbor::encode(std::numeric_limits<std::int64_t>::min())), "3b7fffffffffffffff");
}

TEST(Cbor, EncodesFloatsAsDoubles) {
    EXPECT_EQ(hex_of(cbor::encode(1.1)), "fb3ff199999999999a");
    EXPECT_EQ(hex_of(cbor::encode(1.0)), "fb3ff0000000000000");
    EXPECT_EQ(hex_of(cbor::encode(-4.1)), "fbc010666666666666");
    EXPECT_EQ(hex_of(cbor::encode(0.0)), "fb0000000000000000");
    EXPECT_EQ(hex_of(cbor::encode(std::numeric_limits<double>::infinity())), "fb7ff0000000000000");
}

TEST(Cbor, EncodesStringsContainersAndSimpleValues) {
    EXPECT_EQ(hex_of(cbor::encode(true)), "f5");
    EXPECT_EQ(hex_of(cbor::encode(false)), "f4");
    EXPECT_EQ(hex_of(cbor::encode(nullptr)), "f6");
    EXPECT_EQ(hex_of(cbor::encode("")), "60");
    EXPECT_EQ(hex_of(cbor::encode("IETF")), "6449455446");
    EXPECT_EQ(hex_of(cbor::encode("\xc3\xbc")), "62c3bc");
    EXPECT_EQ(hex_of(cbor::encode(std::string(24, 'x'))).substr(0, 4), "7818");
    EXPECT_EQ(hex_of(cbor::encode(std::string(300, 'x'))).substr(0, 6), "79012c");
    EXPECT_EQ(hex_of(cbor::encode(json::binary({1, 2, 3, 4}))), "4401020304");
    EXPECT_EQ(hex_of(cbor::encode(json::array())), "80");
    EXPECT_EQ(hex_of(cbor::encode(json::parse("[1,[2,3],[4,5]]"))), "8301820203820405");
    EXPECT_EQ(hex_of(cbor::encode(json::object())), "a0");
    EXPECT_EQ(hex_of(cbor::encode(json::parse(R"({"a":1,"b":[2,3]})"))), "a26161016162820203");
    json many = json::array();
    for (int i = 1; i <= 25; ++i) many.push_back(i);
    EXPECT_EQ(hex_of(cbor::encode(many)),
              "98190102030405060708090a0b0c0d0e0f101112131415161718181819");
}

TEST(Cbor, EncodesTimestampKeysAsTagOneDoubles) {
    cbor::EncodeOptions ts{{"Timestamp", "Timestamps"}};
    // tag 1 (c1) + double epoch seconds, for a member, for each element of a list, at any depth
    EXPECT_EQ(hex_of(cbor::encode(json{{"Timestamp", 1363896240.5}}, ts)),
              "a169" + hex_of("Timestamp") + "c1fb41d452d9ec200000");
    EXPECT_EQ(hex_of(cbor::encode(json{{"Timestamp", 1363896240}}, ts)),
              "a169" + hex_of("Timestamp") + "c1fb41d452d9ec000000");
    EXPECT_EQ(hex_of(cbor::encode(json{{"Timestamps", {1.0, 2.5}}}, ts)),
              "a16a" + hex_of("Timestamps") + "82c1fb3ff0000000000000c1fb4004000000000000");
    json nested = json::parse(R"({"Datapoints":[{"Timestamp":60.0,"Sum":3.0}]})");
    EXPECT_EQ(hex_of(cbor::encode(nested, ts)), "a16a" + hex_of("Datapoints") + "81a263" +
                                                    hex_of("Sum") +
                                                    "fb4008000000000000"
                                                    "69" +
                                                    hex_of("Timestamp") + "c1fb404e000000000000");
    // other keys, and non-numbers under a timestamp key, are left alone
    EXPECT_EQ(hex_of(cbor::encode(json{{"Time", 1.0}}, ts)),
              "a164" + hex_of("Time") + "fb3ff0000000000000");
    EXPECT_EQ(hex_of(cbor::encode(json{{"Timestamp", "x"}}, ts)),
              "a169" + hex_of("Timestamp") + "6178");
    // without options: plain numbers
    EXPECT_EQ(hex_of(cbor::encode(json{{"Timestamp", 1.0}})),
              "a169" + hex_of("Timestamp") + "fb3ff0000000000000");
}

TEST(Cbor, RoundTripsJsonDocuments) {
    json doc = json::parse(
        R"({"MetricDataResults":[{"Id":"m1","Label":"Throttles","Timestamps":[1704067260.0,1704067200.0],
        "Values":[2.0,0.0],"StatusCode":"Complete"}],"Messages":[],"n":-7,"big":18446744073709551615,"ok":true,
        "none":null,"text":"caf\u00e9 \u6c34 \ud83c\udf0a"})");
    auto back = cbor::decode(cbor::encode(doc, {{"Timestamps"}}));
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_EQ(*back, doc);
}
