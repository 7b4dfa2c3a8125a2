#include "lamina/common/cbor.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "lamina/common/encoding.hpp"

namespace lamina::cbor {

namespace {

using json = nlohmann::json;

enum Major : std::uint8_t {
    Unsigned = 0,
    Negative = 1,
    Bytes = 2,
    Text = 3,
    Array = 4,
    Map = 5,
    Tag = 6,
    Simple = 7,
};

constexpr std::uint8_t kIndefinite = 31;
constexpr std::uint8_t kBreak = 0xff;
constexpr std::uint64_t kEpochTag = 1;

double half_to_double(std::uint16_t half) {  // RFC 8949 appendix D
    int exponent = (half >> 10) & 0x1f;
    int mantissa = half & 0x3ff;
    double value;
    if (exponent == 0)
        value = std::ldexp(mantissa, -24);
    else if (exponent != 31)
        value = std::ldexp(mantissa + 1024, exponent - 25);
    else
        value = mantissa == 0 ? std::numeric_limits<double>::infinity()
                              : std::numeric_limits<double>::quiet_NaN();
    return (half & 0x8000) ? -value : value;
}

class Decoder {
public:
    Decoder(std::string_view in, std::size_t max_depth) : in_(in), max_depth_(max_depth) {}

    Result<json> document() {
        if (in_.empty()) return error("empty input");
        auto value = item(0);
        if (!value) return value;
        if (pos_ != in_.size()) return error("trailing bytes after the data item");
        return value;
    }

private:
    std::string_view in_;
    std::size_t max_depth_;
    std::size_t pos_ = 0;

    std::unexpected<Error> error(const std::string& what) const {
        return fail(ErrorCode::InvalidRequestContent,
                    "CBOR: " + what + " at byte " + std::to_string(pos_));
    }

    std::size_t left() const { return in_.size() - pos_; }

    Result<std::uint64_t> read_uint(std::size_t bytes) {
        if (left() < bytes) return error("truncated input");
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < bytes; ++i)
            v = (v << 8) | static_cast<std::uint8_t>(in_[pos_++]);
        return v;
    }

    // The argument of a head whose additional information is `info` (not 31).
    Result<std::uint64_t> argument(std::uint8_t info) {
        if (info < 24) return info;
        switch (info) {
            case 24:
                return read_uint(1);
            case 25:
                return read_uint(2);
            case 26:
                return read_uint(4);
            case 27:
                return read_uint(8);
            case kIndefinite:
                return error("indefinite length not allowed here");
            default:
                return error("reserved additional information " + std::to_string(info));
        }
    }

    // Whether the next byte is a break (consumed if so); false at the end of input.
    bool at_break() {
        if (left() > 0 && static_cast<std::uint8_t>(in_[pos_]) == kBreak) {
            ++pos_;
            return true;
        }
        return false;
    }

    Result<std::string> chunk(std::uint8_t major, std::uint8_t info) {
        auto length = argument(info);
        if (!length) return std::unexpected(length.error());
        if (*length > left())
            return error("string length " + std::to_string(*length) + " exceeds the input");
        std::string out(in_.substr(pos_, static_cast<std::size_t>(*length)));
        pos_ += static_cast<std::size_t>(*length);
        if (major == Major::Text && !is_valid_utf8(out))
            return error("text string is not valid UTF-8");
        return out;
    }

    Result<std::string> string_item(std::uint8_t major, std::uint8_t info) {
        if (info != kIndefinite) return chunk(major, info);
        std::string out;
        while (!at_break()) {
            if (left() == 0)
                return error("truncated input (unterminated indefinite-length string)");
            auto head = static_cast<std::uint8_t>(in_[pos_++]);
            if ((head >> 5) != major || (head & 0x1f) == kIndefinite)
                return error(
                    "indefinite-length string chunk is not a definite string of the same type");
            auto part = chunk(major, head & 0x1f);
            if (!part) return part;
            out += *part;
        }
        return out;
    }

    Result<json> array(std::uint8_t info, std::size_t depth) {
        json out = json::array();
        if (info == kIndefinite) {
            while (!at_break()) {
                if (left() == 0)
                    return error("truncated input (unterminated indefinite-length array)");
                auto v = item(depth + 1);
                if (!v) return v;
                out.push_back(std::move(*v));
            }
            return out;
        }
        auto n = argument(info);
        if (!n) return std::unexpected(n.error());
        if (*n > left()) return error("array length " + std::to_string(*n) + " exceeds the input");
        for (std::uint64_t i = 0; i < *n; ++i) {
            auto v = item(depth + 1);
            if (!v) return v;
            out.push_back(std::move(*v));
        }
        return out;
    }

    Result<void> member(json& out, std::size_t depth) {
        std::size_t at = pos_;
        auto key = item(depth + 1);
        if (!key) return std::unexpected(key.error());
        if (!key->is_string())
            return fail(ErrorCode::InvalidRequestContent,
                        "CBOR: map key is not a string at byte " + std::to_string(at));
        auto value = item(depth + 1);
        if (!value) return std::unexpected(value.error());
        out[key->get<std::string>()] = std::move(*value);
        return {};
    }

    Result<json> map(std::uint8_t info, std::size_t depth) {
        json out = json::object();
        if (info == kIndefinite) {
            while (!at_break()) {
                if (left() == 0)
                    return error("truncated input (unterminated indefinite-length map)");
                if (auto ok = member(out, depth); !ok) return std::unexpected(ok.error());
            }
            return out;
        }
        auto n = argument(info);
        if (!n) return std::unexpected(n.error());
        if (*n > left() / 2)
            return error("map length " + std::to_string(*n) + " exceeds the input");
        for (std::uint64_t i = 0; i < *n; ++i)
            if (auto ok = member(out, depth); !ok) return std::unexpected(ok.error());
        return out;
    }

    Result<json> tagged(std::uint8_t info, std::size_t depth) {
        auto tag = argument(info);
        if (!tag) return std::unexpected(tag.error());
        if (*tag == 2 || *tag == 3) return error("bignums (tags 2 and 3) are not supported");
        auto content = item(depth + 1);
        if (!content) return content;
        if (*tag == kEpochTag && !content->is_number())
            return error("tag 1 (epoch time) must wrap a number");
        return content;  // tag 1: the epoch seconds; other tags: their content
    }

    Result<json> simple(std::uint8_t info) {
        switch (info) {
            case 20:
                return json(false);
            case 21:
                return json(true);
            case 22:
            case 23:
                return json(nullptr);  // null, undefined
            case 25: {
                auto bits = read_uint(2);
                if (!bits) return std::unexpected(bits.error());
                return json(half_to_double(static_cast<std::uint16_t>(*bits)));
            }
            case 26: {
                auto bits = read_uint(4);
                if (!bits) return std::unexpected(bits.error());
                return json(
                    static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(*bits))));
            }
            case 27: {
                auto bits = read_uint(8);
                if (!bits) return std::unexpected(bits.error());
                return json(std::bit_cast<double>(*bits));
            }
            case 28:
            case 29:
            case 30:
                return error("reserved additional information " + std::to_string(info));
            case kIndefinite:
                return error("break outside an indefinite-length item");
            default:
                return error("unsupported simple value (additional information " +
                             std::to_string(info) + ")");
        }
    }

    Result<json> item(std::size_t depth) {
        if (left() == 0) return error("truncated input");
        auto head = static_cast<std::uint8_t>(in_[pos_++]);
        auto major = static_cast<std::uint8_t>(head >> 5);
        auto info = static_cast<std::uint8_t>(head & 0x1f);
        if ((major == Major::Array || major == Major::Map || major == Major::Tag) &&
            depth >= max_depth_)
            return error("nesting deeper than " + std::to_string(max_depth_));
        switch (major) {
            case Major::Unsigned: {
                auto n = argument(info);
                if (!n) return std::unexpected(n.error());
                return json(*n);
            }
            case Major::Negative: {
                auto n = argument(info);
                if (!n) return std::unexpected(n.error());
                if (*n <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                    return json(-1 - static_cast<std::int64_t>(*n));
                return json(-1.0 - static_cast<double>(*n));  // below int64: as a double
            }
            case Major::Bytes:
            case Major::Text: {
                auto s = string_item(major, info);
                if (!s) return std::unexpected(s.error());
                return json(std::move(*s));
            }
            case Major::Array:
                return array(info, depth);
            case Major::Map:
                return map(info, depth);
            case Major::Tag:
                return tagged(info, depth);
            default:
                return simple(info);
        }
    }
};

void head(std::string& out, std::uint8_t major, std::uint64_t n) {
    auto first = static_cast<std::uint8_t>(major << 5);
    std::size_t bytes;
    if (n < 24) {
        out.push_back(static_cast<char>(first | n));
        return;
    } else if (n <= 0xff) {
        out.push_back(static_cast<char>(first | 24));
        bytes = 1;
    } else if (n <= 0xffff) {
        out.push_back(static_cast<char>(first | 25));
        bytes = 2;
    } else if (n <= 0xffffffff) {
        out.push_back(static_cast<char>(first | 26));
        bytes = 4;
    } else {
        out.push_back(static_cast<char>(first | 27));
        bytes = 8;
    }
    for (std::size_t i = bytes; i-- > 0;) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
}

void write_double(std::string& out, double v) {
    out.push_back(static_cast<char>(0xfb));
    auto bits = std::bit_cast<std::uint64_t>(v);
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

void write(std::string& out, const json& v, const EncodeOptions& options, bool timestamp) {
    if (timestamp && v.is_number()) {
        head(out, Major::Tag, kEpochTag);
        write_double(out, v.get<double>());
        return;
    }
    switch (v.type()) {
        case json::value_t::boolean:
            out.push_back(static_cast<char>(v.get<bool>() ? 0xf5 : 0xf4));
            return;
        case json::value_t::number_integer: {
            auto i = v.get<std::int64_t>();
            if (i >= 0)
                head(out, Major::Unsigned, static_cast<std::uint64_t>(i));
            else
                head(out, Major::Negative, static_cast<std::uint64_t>(-1 - i));
            return;
        }
        case json::value_t::number_unsigned:
            head(out, Major::Unsigned, v.get<std::uint64_t>());
            return;
        case json::value_t::number_float:
            write_double(out, v.get<double>());
            return;
        case json::value_t::string: {
            const auto& s = v.get_ref<const json::string_t&>();
            head(out, Major::Text, s.size());
            out += s;
            return;
        }
        case json::value_t::binary: {
            const auto& b = v.get_binary();
            head(out, Major::Bytes, b.size());
            out.append(b.begin(), b.end());
            return;
        }
        case json::value_t::array:
            head(out, Major::Array, v.size());
            for (const auto& e : v) write(out, e, options, timestamp);
            return;
        case json::value_t::object:
            head(out, Major::Map, v.size());
            for (auto it = v.begin(); it != v.end(); ++it) {
                head(out, Major::Text, it.key().size());
                out += it.key();
                write(out, it.value(), options, options.timestamp_keys.contains(it.key()));
            }
            return;
        default:
            out.push_back(static_cast<char>(0xf6));
            return;  // null, discarded
    }
}

}  // namespace

Result<nlohmann::json> decode(std::string_view bytes, std::size_t max_depth) {
    return Decoder(bytes, max_depth).document();
}

std::string encode(const nlohmann::json& value, const EncodeOptions& options) {
    std::string out;
    write(out, value, options, false);
    return out;
}

}  // namespace lamina::cbor
