#pragma once
// Turns a template's CodeUri / ContentUri into the zip the Lambda API takes:
// a folder is zipped the same way every time (sorted entries, fixed
// timestamps, permissions kept), so an unchanged folder has an unchanged
// CodeSha256 and a redeploy changes nothing; a .zip/.jar file is read as is.

#include <filesystem>
#include <string>

#include "lamina/common/error.hpp"

namespace lamina::sam {

// The bytes of a zip of every file under `folder` (paths relative to it).
Result<std::string> zip_folder(const std::filesystem::path& folder);
// A zip holding one file (inline code: index.py, index.js, ...).
Result<std::string> zip_single_file(const std::string& name, const std::string& content);
// A folder is zipped, a file is read; anything else is an error.
Result<std::string> package_code(const std::filesystem::path& path);

}  // namespace lamina::sam
