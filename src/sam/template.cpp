#include "lamina/sam/template.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "lamina/common/encoding.hpp"
#include "lamina/common/regex.hpp"

namespace lamina::sam {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string escape_key(const std::string& key) {
    std::string out;
    for (char c : key) {
        if (c == '~')
            out += "~0";
        else if (c == '/')
            out += "~1";
        else
            out += c;
    }
    return out;
}

// A plain (unquoted) YAML scalar typed the way CloudFormation reads it:
// null, booleans, integers and floats; everything else stays a string.
json plain_scalar(const std::string& s) {
    static const std::regex kInt(R"([-+]?(0|[1-9][0-9]*))");
    static const std::regex kFloat(
        R"([-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+)");
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    if (regex_full_match(s, kInt) && s.size() < 18) return std::stoll(s);
    if (regex_full_match(s, kFloat)) {
        try {
            return std::stod(s);
        } catch (const std::exception&) {
            return s;
        }
    }
    return s;
}

class Converter {
public:
    explicit Converter(std::map<std::string, int>& lines) : lines_(lines) {}

    Result<json> convert(const YAML::Node& n, const std::string& pointer) {
        lines_[pointer] = n.Mark().line + 1;
        // a template is a few levels deep; this bounds the recursion below
        struct Depth {
            int& d;
            explicit Depth(int& v) : d(++v) {}
            ~Depth() { --d; }
        } depth(depth_);
        if (depth_ > kMaxDepth)
            return fail(ErrorCode::InvalidParameterValue,
                        std::to_string(n.Mark().line + 1) + ": nested more than " +
                            std::to_string(kMaxDepth) + " levels deep");
        const std::string& tag = n.Tag();
        if (!tag.empty() && tag != "?" && tag != "!" && tag[0] == '!' && tag.rfind("!!", 0) != 0) {
            return short_form(n, tag.substr(1), pointer);
        }
        return untagged(n, pointer, tag == "!");
    }

private:
    Result<json> untagged(const YAML::Node& n, const std::string& pointer, bool quoted) {
        switch (n.Type()) {
            case YAML::NodeType::Null:
            case YAML::NodeType::Undefined:
                return json(nullptr);
            case YAML::NodeType::Scalar:
                if (!is_valid_utf8(n.Scalar())) return not_utf8(n);
                return quoted ? json(n.Scalar()) : plain_scalar(n.Scalar());
            case YAML::NodeType::Sequence: {
                json out = json::array();
                std::size_t i = 0;
                for (const auto& item : n) {
                    auto v = convert(item, pointer + "/" + std::to_string(i++));
                    if (!v) return v;
                    out.push_back(std::move(*v));
                }
                return out;
            }
            case YAML::NodeType::Map: {
                json out = json::object();
                for (const auto& kv : n) {
                    if (!kv.first.IsScalar())
                        return fail(ErrorCode::InvalidParameterValue,
                                    std::to_string(kv.first.Mark().line + 1) +
                                        ": a mapping key must be a plain string");
                    std::string key = kv.first.Scalar();
                    if (!is_valid_utf8(key)) return not_utf8(kv.first);
                    std::string child = pointer + "/" + escape_key(key);
                    if (out.contains(key))
                        return fail(ErrorCode::InvalidParameterValue,
                                    std::to_string(kv.first.Mark().line + 1) + ": duplicate key '" +
                                        key + "'");
                    auto v = convert(kv.second, child);
                    if (!v) return v;
                    lines_[child] = kv.first.Mark().line + 1;
                    out[key] = std::move(*v);
                }
                return out;
            }
        }
        return json(nullptr);
    }

    // Templates are UTF-8 (as CloudFormation requires): checked where text
    // enters, so nothing later has to cope with other bytes.
    static std::unexpected<Error> not_utf8(const YAML::Node& n) {
        return fail(ErrorCode::InvalidParameterValue,
                    std::to_string(n.Mark().line + 1) + ": not valid UTF-8");
    }

    // !Ref X -> {"Ref": X}; !GetAtt A.B -> {"Fn::GetAtt": ["A", "B"]};
    // !Condition C -> {"Condition": C}; any other !Name -> {"Fn::Name": ...}.
    Result<json> short_form(const YAML::Node& n, const std::string& name,
                            const std::string& pointer) {
        std::string key = (name == "Ref" || name == "Condition") ? name : "Fn::" + name;
        auto inner = untagged(n, pointer + "/" + escape_key(key), n.IsScalar() && n.Tag() == "!");
        if (!inner) return inner;
        if (n.IsScalar()) {
            if (!is_valid_utf8(n.Scalar())) return not_utf8(n);
            *inner = n.Scalar();  // a tagged scalar is always a string
        }
        if (name == "GetAtt" && inner->is_string()) {
            std::string s = *inner;
            auto dot = s.find('.');
            if (dot == std::string::npos)
                *inner = json::array({s});
            else
                *inner = json::array({s.substr(0, dot), s.substr(dot + 1)});
        }
        lines_[pointer + "/" + escape_key(key)] = n.Mark().line + 1;
        return json{{key, std::move(*inner)}};
    }

    static constexpr int kMaxDepth = 64;
    std::map<std::string, int>& lines_;
    int depth_ = 0;
};

}  // namespace

std::string dotted(const std::string& pointer) {
    std::string out;
    for (std::size_t i = 0; i < pointer.size(); ++i) {
        char c = pointer[i];
        if (c == '/') {
            if (i) out += '.';
        } else if (c == '~' && i + 1 < pointer.size()) {
            out += pointer[i + 1] == '1' ? '/' : '~';
            ++i;
        } else {
            out += c;
        }
    }
    return out;
}

int Template::line_of(std::string pointer) const {
    while (true) {
        if (auto it = lines.find(pointer); it != lines.end()) return it->second;
        auto slash = pointer.rfind('/');
        if (slash == std::string::npos || pointer.empty()) return 0;
        pointer.resize(slash);
    }
}

Error Template::error_at(const std::string& pointer, const std::string& message) const {
    std::string where = file.string();
    if (int line = line_of(pointer); line > 0) where += ":" + std::to_string(line);
    std::string path = dotted(pointer);
    return Error{ErrorCode::InvalidParameterValue,
                 where + ": " + (path.empty() ? "" : path + ": ") + message};
}

Result<Template> parse_template(const std::string& text, const fs::path& file) {
    Template t;
    t.file = file;
    if (text.size() > 16 * 1024 * 1024)
        return fail(ErrorCode::InvalidParameterValue, file.string() + ": larger than 16 MiB");
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        return fail(ErrorCode::InvalidParameterValue,
                    file.string() + ":" + std::to_string(e.mark.line + 1) +
                        ": not a valid YAML or JSON template: " + e.msg);
    } catch (const YAML::Exception& e) {
        return fail(ErrorCode::InvalidParameterValue,
                    file.string() + ": not a valid YAML or JSON template: " + e.what());
    }
    Converter conv(t.lines);
    Result<json> doc = [&]() -> Result<json> {
        try {
            return conv.convert(root, "");
        } catch (const YAML::Exception& e) {
            return fail(ErrorCode::InvalidParameterValue,
                        std::string("not a valid YAML or JSON template: ") + e.what());
        }
    }();
    if (!doc) {
        // the converter's messages start with a line number
        return fail(ErrorCode::InvalidParameterValue, file.string() + ":" + doc.error().message);
    }
    if (!doc->is_object())
        return std::unexpected(
            t.error_at("", "a template must be a mapping with a Resources section"));
    if (!doc->contains("Resources") || !(*doc)["Resources"].is_object() ||
        (*doc)["Resources"].empty())
        return std::unexpected(t.error_at("", "the template has no Resources"));
    t.doc = std::move(*doc);
    return t;
}

Result<Template> load_template(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in)
        return fail(ErrorCode::InvalidParameterValue, file.string() + ": cannot read the template");
    std::ostringstream text;
    text << in.rdbuf();
    return parse_template(text.str(), file);
}

}  // namespace lamina::sam
