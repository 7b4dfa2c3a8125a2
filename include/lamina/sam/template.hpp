#pragma once
// A CloudFormation / SAM template read from YAML or JSON into JSON, with the
// short-form intrinsic tags (!Ref, !GetAtt, !Sub, ...) turned into their long
// forms and the line of every node kept, so that an error can name the file,
// line and property it is about.

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "lamina/common/error.hpp"

namespace lamina::sam {

struct Template {
    std::filesystem::path file;
    nlohmann::json doc;                // the whole template, long-form intrinsics
    std::map<std::string, int> lines;  // JSON pointer ("/Resources/Fn/Properties") -> 1-based line

    // The line of the node at `pointer`, or of its nearest ancestor that has one.
    int line_of(std::string pointer) const;
    // "template.yaml:12: Resources.Fn.Properties.CodeUri: <message>"
    Error error_at(const std::string& pointer, const std::string& message) const;
};

// Reads and parses a template file; YAML errors carry the file and line.
Result<Template> load_template(const std::filesystem::path& file);
// Parses template text (file names the source in messages).
Result<Template> parse_template(const std::string& text, const std::filesystem::path& file);

// "/Resources/Fn/Properties" -> "Resources.Fn.Properties"
std::string dotted(const std::string& pointer);

}  // namespace lamina::sam
