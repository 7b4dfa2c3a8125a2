#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "lamina/common/encoding.hpp"
#include "lamina/sam/code_package.hpp"
#include "lamina/sam/deployer.hpp"
#include "sam/lambda_calls.hpp"

// --watch: inotify on the template's folder and the CodeUri / ContentUri
// folders of the last deployment.

namespace lamina::sam {

namespace fs = std::filesystem;
using nlohmann::json;

// A changed function folder updates the function's $LATEST; a changed layer
// folder publishes a new layer version and moves the functions that used the
// old one to it.
Status Deployer::on_folder_changed(const Watched& w, const DeployOptions& options) {
    LambdaCalls lambda(api_);
    LAMINA_TRY(zip, zip_folder(w.folder));
    std::string sha = base64_encode(sha256(zip));
    if (w.kind == "function") {
        LAMINA_TRY(cfg, lambda.get_function_configuration(w.name, w.logical_id));
        if (cfg.value("CodeSha256", std::string()) == sha) return {};
        LAMINA_CHECK(lambda.update_function_code(w.name, json{{"ZipFile", base64_encode(zip)}},
                                                 w.logical_id));
        if (say_)
            say_("watch    " + w.logical_id + "  $LATEST of " + w.name + " updated from " +
                 w.folder.string());
        return {};
    }
    std::string old_arn = layer_arns_[w.logical_id];
    json body = {{"Content", {{"ZipFile", base64_encode(zip)}}}};
    // the new version keeps the old one's settings (a deleted old version has none to keep)
    LAMINA_TRY(old, if_found(lambda.get_layer_version_by_arn(old_arn, w.logical_id)));
    if (old) {
        if (old->contains("Content") && (*old)["Content"].value("CodeSha256", std::string()) == sha)
            return {};
        for (const char* k :
             {"CompatibleRuntimes", "CompatibleArchitectures", "Description", "LicenseInfo"})
            if (old->contains(k)) body[k] = (*old)[k];
    }
    LAMINA_TRY(published, lambda.publish_layer_version(w.name, body, w.logical_id));
    std::string arn = published.value("LayerVersionArn", std::string());
    layer_arns_[w.logical_id] = arn;
    if (say_) say_("watch    " + w.logical_id + "  published " + arn);
    // What fails from here on is reported once the rest is done.
    std::vector<std::string> failures;
    // the stack's record learns of the version, so a redeploy or delete handles it
    if (auto record = lambda.get_stack(options.stack_name); !record) {
        failures.push_back(record.error().message);
    } else if (*record) {
        json& entry = (**record)["Resources"][w.logical_id];
        if (entry.is_object()) {
            entry["LayerVersionArn"] = arn;
            entry["Versions"].push_back(arn);
            if (auto st = lambda.put_stack(options.stack_name, **record); !st)
                failures.push_back(st.error().message);
        }
    }
    for (const auto& fn : layer_users_[w.logical_id]) {
        // a function deleted since the deployment has nothing to move
        auto cfg = if_found(lambda.get_function_configuration(fn, w.logical_id));
        if (!cfg) {
            failures.push_back(cfg.error().message);
            continue;
        }
        if (!*cfg) continue;
        json layers = json::array();
        for (const auto& l : (*cfg)->value("Layers", json::array())) {
            std::string a = l.value("Arn", std::string());
            layers.push_back(a == old_arn ? arn : a);
        }
        if (auto u =
                lambda.update_function_configuration(fn, json{{"Layers", layers}}, w.logical_id);
            !u) {
            failures.push_back(u.error().message);
            continue;
        }
        if (say_) say_("watch    $LATEST of " + fn + " now uses " + arn);
    }
    if (failures.empty()) return {};
    std::string list;
    for (const auto& f : failures) list += (list.empty() ? "" : "; ") + f;
    return fail(ErrorCode::Service, "published " + arn + ", but " + list);
}

Status Deployer::watch(const fs::path& file, const DeployOptions& options,
                       const std::stop_token& stop) {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return fail(ErrorCode::Service, "inotify is not available: --watch cannot work here");
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    constexpr uint32_t kMask =
        IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB;
    std::map<int, fs::path> dirs;
    fs::path template_path = fs::weakly_canonical(file);
    auto add_tree = [&](const fs::path& root) {
        std::error_code ec;
        int wd = ::inotify_add_watch(fd, root.c_str(), kMask);
        if (wd >= 0) dirs[wd] = root;
        for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
            if (it->is_directory(ec) && !it->is_symlink(ec)) {
                int w = ::inotify_add_watch(fd, it->path().c_str(), kMask);
                if (w >= 0) dirs[w] = it->path();
            }
    };
    auto rewatch = [&] {
        for (const auto& [wd, _] : dirs) ::inotify_rm_watch(fd, wd);
        dirs.clear();
        int wd = ::inotify_add_watch(fd, template_path.parent_path().c_str(), kMask);
        if (wd >= 0) dirs[wd] = template_path.parent_path();
        for (const auto& w : watched_) add_tree(w.folder);
    };
    rewatch();
    if (say_)
        say_("watching " + template_path.string() + " and " + std::to_string(watched_.size()) +
             " code folder(s)");
    std::set<fs::path> changed;
    auto last_event = std::chrono::steady_clock::now();
    char buf[16384];
    while (!stop.stop_requested()) {
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, 100);
        if (n > 0) {
            ssize_t len;
            while ((len = ::read(fd, buf, sizeof buf)) > 0) {
                for (char* ptr = buf; ptr < buf + len;) {
                    auto* ev = reinterpret_cast<inotify_event*>(ptr);
                    ptr += sizeof(inotify_event) + ev->len;
                    auto it = dirs.find(ev->wd);
                    if (it == dirs.end()) continue;
                    fs::path what = ev->len ? it->second / ev->name : it->second;
                    if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
                        add_tree(what);
                    changed.insert(what);
                    last_event = std::chrono::steady_clock::now();
                }
            }
        }
        // act once the folder has been quiet for a moment (an editor writes in bursts)
        if (changed.empty() ||
            std::chrono::steady_clock::now() - last_event < std::chrono::milliseconds(250))
            continue;
        std::set<fs::path> batch;
        batch.swap(changed);
        if (batch.contains(template_path)) {
            if (say_) say_("watch    " + template_path.string() + " changed: deploying it again");
            // a template that cannot be applied is reported; the last deployment stays and the watch goes on
            auto report = deploy(file, options);
            if (!report) {
                if (say_) say_("watch    the template was not applied: " + report.error().message);
            } else if (auto st = start_shifts(options.stack_name, report->shifts); !st && say_) {
                say_("watch    " + st.error().message);
            }
            rewatch();
            continue;
        }
        for (const auto& w : watched_) {
            bool hit = false;
            for (const auto& c : batch) {
                auto rel = c.lexically_relative(w.folder);
                hit = hit || (!rel.empty() && *rel.begin() != "..");
            }
            if (!hit) continue;
            // reported; the next change of the folder tries again
            if (auto st = on_folder_changed(w, options); !st && say_)
                say_("watch    " + w.logical_id + " not updated: " + st.error().message);
        }
    }
    return {};
}

}  // namespace lamina::sam
