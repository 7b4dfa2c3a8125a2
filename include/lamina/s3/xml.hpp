#pragma once
// The little XML S3 requests carry (CompleteMultipartUpload, Delete,
// CreateBucketConfiguration): elements, attributes skipped, text with the
// five predefined entities and numeric references. No DTDs, no namespaces
// beyond dropping a prefix. Anything else is not well-formed (MalformedXML).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lamina::s3 {

struct XmlNode {
    std::string name;  // local name (prefix dropped)
    std::string text;  // concatenated character data directly inside
    std::vector<XmlNode> children;

    const XmlNode* child(std::string_view name) const;
    std::vector<const XmlNode*> children_named(std::string_view name) const;
};

// The document's root element; nullopt when it is not well-formed.
std::optional<XmlNode> parse_xml(std::string_view text);

}  // namespace lamina::s3
