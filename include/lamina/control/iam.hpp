#pragma once
// The IAM roles that scripts create before creating functions. Stored and
// returned as IAM does; never enforced (lamina does not evaluate IAM policies).

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lamina/common/clock.hpp"
#include "lamina/common/error.hpp"
#include "lamina/store/document_store.hpp"

namespace lamina::control {

struct Role {
    std::string name, path = "/", id, arn, description;
    std::string assume_role_policy;  // URL-decoded JSON text
    std::int64_t created_ms = 0;
    int max_session_duration = 3600;
    std::vector<std::string> attached;                   // managed policy ARNs
    std::map<std::string, std::string> inline_policies;  // name -> document
    std::map<std::string, std::string> tags;
};

class IamRoles {
public:
    IamRoles(store::DocumentStore& docs, Clock& clock, IdSource& ids);
    Status load();
    // Forgets every role.
    Status clear();

    Result<Role> create(const std::string& account, Role role);
    Result<Role> get(const std::string& account, const std::string& name) const;
    Status remove(const std::string& account, const std::string& name);
    std::vector<Role> list(const std::string& account, const std::string& path_prefix) const;
    Status attach(const std::string& account, const std::string& name,
                  const std::string& policy_arn);
    Status detach(const std::string& account, const std::string& name,
                  const std::string& policy_arn);
    Status put_inline(const std::string& account, const std::string& name,
                      const std::string& policy_name, const std::string& document);
    Status delete_inline(const std::string& account, const std::string& name,
                         const std::string& policy_name);

private:
    Status save(const std::string& account, const Role& r);
    store::DocumentStore& docs_;
    Clock& clock_;
    IdSource& ids_;
    mutable std::mutex mu_;
    std::map<std::string, std::map<std::string, Role>> roles_;  // account -> name -> role
};

}  // namespace lamina::control
