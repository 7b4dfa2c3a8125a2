#pragma once
// The records of deployed templates (lamina deploy / serve --template): per
// account and region, stack name -> a JSON document the deployer writes
// (what it made for each logical id). Kept in the document store so a
// redeploy after a restart still knows what to update and what to delete.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/error.hpp"
#include "lamina/control/names.hpp"
#include "lamina/store/document_store.hpp"

namespace lamina::control {

class StackRecords {
public:
    explicit StackRecords(store::DocumentStore& docs) : docs_(docs) {}
    Status load();
    // Forgets every stack record.
    Status clear();
    std::optional<std::string> get(const Scope& s, const std::string& name) const;
    // `doc` must be a JSON object; the name 1-128 of A-Za-z0-9-.
    Status put(const Scope& s, const std::string& name, const std::string& doc);
    Status erase(const Scope& s, const std::string& name);
    std::vector<std::string> names(const Scope& s) const;

private:
    static std::string key(const Scope& s, const std::string& name);
    store::DocumentStore& docs_;
    mutable std::mutex mu_;
    std::map<std::string, std::string> records_;  // key -> doc
};

}  // namespace lamina::control
