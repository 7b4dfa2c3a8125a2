#include "lamina/s3/xml.hpp"

#include <cctype>

namespace lamina::s3 {

const XmlNode* XmlNode::child(std::string_view n) const {
    for (const auto& c : children)
        if (c.name == n) return &c;
    return nullptr;
}

std::vector<const XmlNode*> XmlNode::children_named(std::string_view n) const {
    std::vector<const XmlNode*> out;
    for (const auto& c : children)
        if (c.name == n) out.push_back(&c);
    return out;
}

namespace {

constexpr int kMaxDepth = 32;

struct Parser {
    std::string_view s;
    std::size_t i = 0;

    bool eof() const { return i >= s.size(); }
    bool starts(std::string_view p) const { return s.substr(i, p.size()) == p; }
    void skip_space() {
        while (!eof() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    }
    // Skips <?...?>, <!--...-->; false on an unterminated one.
    bool skip_misc() {
        while (true) {
            skip_space();
            if (starts("<?")) {
                auto end = s.find("?>", i);
                if (end == std::string_view::npos) return false;
                i = end + 2;
            } else if (starts("<!--")) {
                auto end = s.find("-->", i);
                if (end == std::string_view::npos) return false;
                i = end + 3;
            } else {
                return true;
            }
        }
    }
    static bool name_char(char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
               c == ':' || static_cast<unsigned char>(c) >= 0x80;
    }
    std::optional<std::string> name() {
        std::size_t start = i;
        while (!eof() && name_char(s[i])) ++i;
        if (i == start) return std::nullopt;
        std::string n(s.substr(start, i - start));
        if (auto colon = n.rfind(':'); colon != std::string::npos) n = n.substr(colon + 1);
        return n;
    }
    static void append_utf8(std::string& out, unsigned long cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }
    bool entity(std::string& out) {
        auto end = s.find(';', i);
        if (end == std::string_view::npos || end - i > 12) return false;
        std::string_view e = s.substr(i + 1, end - i - 1);
        i = end + 1;
        if (e == "amp")
            out += '&';
        else if (e == "lt")
            out += '<';
        else if (e == "gt")
            out += '>';
        else if (e == "quot")
            out += '"';
        else if (e == "apos")
            out += '\'';
        else if (e.size() > 1 && e[0] == '#') {
            bool hex = e[1] == 'x';
            std::string digits(e.substr(hex ? 2 : 1));
            if (digits.empty()) return false;
            char* stop = nullptr;
            unsigned long cp = std::strtoul(digits.c_str(), &stop, hex ? 16 : 10);
            if (*stop != '\0' || cp == 0 || cp > 0x10FFFF) return false;
            append_utf8(out, cp);
        } else {
            return false;
        }
        return true;
    }
    bool element(XmlNode& node, int depth) {
        if (depth > kMaxDepth || !starts("<")) return false;
        ++i;
        auto n = name();
        if (!n) return false;
        node.name = *n;
        // attributes: name="value" or name='value', skipped
        while (true) {
            skip_space();
            if (eof()) return false;
            if (starts("/>")) {
                i += 2;
                return true;
            }
            if (s[i] == '>') {
                ++i;
                break;
            }
            if (!name()) return false;
            skip_space();
            if (eof() || s[i] != '=') return false;
            ++i;
            skip_space();
            if (eof() || (s[i] != '"' && s[i] != '\'')) return false;
            char q = s[i++];
            auto end = s.find(q, i);
            if (end == std::string_view::npos) return false;
            i = end + 1;
        }
        // content
        while (true) {
            if (eof()) return false;
            if (starts("</")) {
                i += 2;
                auto close = name();
                skip_space();
                if (!close || *close != node.name || eof() || s[i] != '>') return false;
                ++i;
                return true;
            }
            if (starts("<!--")) {
                auto end = s.find("-->", i);
                if (end == std::string_view::npos) return false;
                i = end + 3;
            } else if (starts("<![CDATA[")) {
                auto end = s.find("]]>", i);
                if (end == std::string_view::npos) return false;
                node.text += s.substr(i + 9, end - i - 9);
                i = end + 3;
            } else if (s[i] == '<') {
                XmlNode c;
                if (!element(c, depth + 1)) return false;
                node.children.push_back(std::move(c));
            } else if (s[i] == '&') {
                if (!entity(node.text)) return false;
            } else {
                node.text.push_back(s[i++]);
            }
        }
    }
};

}  // namespace

std::optional<XmlNode> parse_xml(std::string_view text) {
    Parser p{text};
    if (!p.skip_misc()) return std::nullopt;
    XmlNode root;
    if (!p.element(root, 0)) return std::nullopt;
    if (!p.skip_misc() || !p.eof()) return std::nullopt;
    return root;
}

}  // namespace lamina::s3
