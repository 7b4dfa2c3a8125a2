#include "lamina/sandbox/memory_cgroup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace lamina::sandbox {

namespace fs = std::filesystem;

namespace {

bool write_file(const fs::path& p, const std::string& value) {
    std::ofstream out(p);
    out << value;
    out.flush();
    return static_cast<bool>(out);
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::int64_t read_counter(const std::string& text, const std::string& key) {
    std::istringstream in(text);
    std::string k;
    std::int64_t v;
    while (in >> k >> v)
        if (k == key) return v;
    return 0;
}

// Removes the groups of lamina processes that are gone (killed with -9:
// they could not clean up after themselves).
void remove_stale(const fs::path& parent) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(parent, ec)) {
        std::string name = e.path().filename().string();
        if (name.rfind("lamina-", 0) != 0) continue;
        auto pid = static_cast<pid_t>(std::atol(name.c_str() + 7));
        if (pid <= 0 || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
        std::error_code sub;
        for (const auto& child : fs::directory_iterator(e.path(), sub))
            if (child.is_directory()) fs::remove(child.path(), sub);
        fs::remove(e.path(), sub);
    }
}

}  // namespace

Result<MemoryCgroups> MemoryCgroups::detect() {
    std::ifstream self("/proc/self/cgroup");
    std::string line, v1_path, v2_path;
    std::optional<std::string> pids_path;
    bool has_v1 = false, has_v2 = false;
    while (std::getline(self, line)) {
        auto a = line.find(':');
        auto b = line.find(':', a + 1);
        std::string controllers = line.substr(a + 1, b - a - 1);
        std::string path = line.substr(b + 1);
        if (controllers == "memory" || controllers.find("memory,") == 0 ||
            controllers.find(",memory") != std::string::npos) {
            has_v1 = true;
            v1_path = path;
        }
        if (controllers == "pids" || controllers.find("pids,") == 0 ||
            controllers.find(",pids") != std::string::npos)
            pids_path = path;
        if (line.rfind("0::", 0) == 0) {
            has_v2 = true;
            v2_path = path;
        }
    }
    std::string suffix = "lamina-" + std::to_string(::getpid());
    std::error_code ec;
    if (has_v1 && fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes", ec)) {
        fs::path root =
            fs::path("/sys/fs/cgroup/memory") / fs::path(v1_path).relative_path() / suffix;
        remove_stale(root.parent_path());
        fs::create_directories(root, ec);
        if (!ec && fs::exists(root / "memory.limit_in_bytes")) {
            MemoryCgroups groups(root, false);
            if (pids_path && fs::exists("/sys/fs/cgroup/pids", ec)) {
                fs::path pids =
                    fs::path("/sys/fs/cgroup/pids") / fs::path(*pids_path).relative_path() / suffix;
                remove_stale(pids.parent_path());
                std::error_code pec;
                fs::create_directories(pids, pec);
                if (!pec && fs::exists(pids / "cgroup.procs")) groups.pids_root_ = pids;
            }
            return groups;
        }
        return fail(ErrorCode::Service,
                    "the memory cgroup (v1) is not writable here: " + root.string() +
                        (ec ? ": " + ec.message() : std::string()));
    }
    if (has_v2) {
        fs::path mount = fs::exists("/sys/fs/cgroup/cgroup.controllers", ec)
                             ? fs::path("/sys/fs/cgroup")
                             : fs::path("/sys/fs/cgroup/unified");
        fs::path parent = mount / fs::path(v2_path).relative_path();
        if (read_file(parent / "cgroup.controllers").find("memory") == std::string::npos)
            return fail(ErrorCode::Service,
                        "no memory controller in cgroup v2 at " + parent.string());
        fs::path root = parent / suffix;
        remove_stale(parent);
        fs::create_directories(root, ec);
        if (ec)
            return fail(ErrorCode::Service, "cannot create " + root.string() + ": " + ec.message());
        // children of `root` need the memory controller enabled on it
        if (!write_file(root / "cgroup.subtree_control", "+memory"))
            return fail(ErrorCode::Service,
                        "cannot enable the memory controller under " + root.string());
        MemoryCgroups groups(root, true);
        if (read_file(parent / "cgroup.controllers").find("pids") != std::string::npos)
            groups.pids_v2_ = write_file(root / "cgroup.subtree_control", "+pids");
        return groups;
    }
    return fail(ErrorCode::Service, "no cgroup memory controller found");
}

Result<std::vector<std::string>> MemoryCgroups::create(const std::string& name,
                                                       std::int64_t limit_bytes,
                                                       int max_processes) const {
    fs::path dir = root_ / name;
    std::error_code ec;
    fs::create_directory(dir, ec);
    if (ec)
        return fail(ErrorCode::Service,
                    "cannot create cgroup " + dir.string() + ": " + ec.message());
    bool ok =
        v2_ ? write_file(dir / "memory.max", std::to_string(limit_bytes)) &&
                  (write_file(dir / "memory.swap.max", "0"), true)
            : write_file(dir / "memory.limit_in_bytes", std::to_string(limit_bytes)) &&
                  (write_file(dir / "memory.memsw.limit_in_bytes", std::to_string(limit_bytes)),
                   true);
    if (!ok) return fail(ErrorCode::Service, "cannot set the memory limit of " + dir.string());
    std::vector<std::string> procs = {(dir / "cgroup.procs").string()};
    if (pids_v2_) {
        write_file(dir / "pids.max", std::to_string(max_processes));
    } else if (pids_root_) {
        fs::path pids = *pids_root_ / name;
        fs::create_directory(pids, ec);
        if (!ec && write_file(pids / "pids.max", std::to_string(max_processes)))
            procs.push_back((pids / "cgroup.procs").string());
    }
    return procs;
}

std::int64_t MemoryCgroups::peak_bytes(const std::string& name) const {
    int fd = open_peak(name);
    std::int64_t bytes = peak_bytes_at(fd);
    if (fd >= 0) ::close(fd);
    return bytes;
}

int MemoryCgroups::open_peak(const std::string& name) const {
    fs::path file = root_ / name / (v2_ ? "memory.peak" : "memory.max_usage_in_bytes");
    return ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
}

std::int64_t MemoryCgroups::peak_bytes_at(int fd) {
    if (fd < 0) return 0;
    char text[32];  // a byte count: at most 20 digits and a newline
    ssize_t n;
    do n = ::pread(fd, text, sizeof text - 1, 0);  // from 0: the kernel formats it anew
    while (n < 0 && errno == EINTR);
    if (n <= 0) return 0;
    text[n] = '\0';
    return std::atoll(text);
}

bool MemoryCgroups::oom_killed(const std::string& name) const {
    fs::path dir = root_ / name;
    return read_counter(read_file(dir / (v2_ ? "memory.events" : "memory.oom_control")),
                        "oom_kill") > 0;
}

void MemoryCgroups::remove_all() const {
    // rmdir refuses (EBUSY) a group whose last task is still on its way out
    // (killed, not yet gone from the group): tried again for up to 2 s, so
    // that a server stopping right after killing its environments leaves
    // no lamina-<pid> group behind.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (true) {
        bool left = false;
        std::error_code ec;
        for (const fs::path& root : {root_, pids_root_.value_or(fs::path())}) {
            if (root.empty()) continue;
            for (const auto& e : fs::directory_iterator(root, ec))
                if (e.is_directory()) fs::remove(e.path(), ec);
            fs::remove(root, ec);
            if (fs::exists(root, ec)) left = true;
        }
        if (!left || std::chrono::steady_clock::now() >= deadline) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void MemoryCgroups::remove(const std::string& name) const {
    std::error_code ec;
    fs::remove(root_ / name, ec);  // rmdir: succeeds once the group is empty
    if (pids_root_) fs::remove(*pids_root_ / name, ec);
}

}  // namespace lamina::sandbox
