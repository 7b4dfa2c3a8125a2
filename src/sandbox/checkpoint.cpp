#include "lamina/sandbox/checkpoint.hpp"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "lamina/sandbox/process.hpp"

namespace lamina::sandbox {

namespace fs = std::filesystem;

namespace {

std::string link_of(int pid, int fd) {
    std::error_code ec;
    auto target =
        fs::read_symlink("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd), ec);
    return ec ? std::string() : target.string();
}

// Whether `pid` holds a network socket. Unix sockets are criu's to restore
// (the JVM keeps one end of a socketpair of its own for closing sockets).
bool holds_network_socket(int pid) {
    std::string proc = "/proc/" + std::to_string(pid);
    std::set<std::string> unix_sockets;
    std::ifstream net(proc + "/net/unix");
    std::string line;
    std::getline(net, line);  // the header
    while (std::getline(net, line)) {
        std::istringstream fields(line);
        std::string f, inode;
        for (int i = 0; i < 7 && fields >> f; ++i) inode = f;
        unix_sockets.insert(inode);
    }
    std::error_code ec;
    for (const auto& fd : fs::directory_iterator(proc + "/fd", ec)) {
        std::string target = fs::read_symlink(fd.path(), ec).string();
        if (ec || target.rfind("socket:[", 0) != 0) continue;
        if (!unix_sockets.contains(target.substr(8, target.size() - 9))) return true;
    }
    return false;
}

// The real uid and gid of `pid` ("Uid:" and "Gid:" of its status), -1 unknown.
std::pair<long, long> ids_of(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    long uid = -1, gid = -1;
    while (std::getline(in, line)) {
        if (line.rfind("Uid:", 0) == 0) uid = std::atol(line.c_str() + 4);
        if (line.rfind("Gid:", 0) == 0) gid = std::atol(line.c_str() + 4);
    }
    return {uid, gid};
}

constexpr int kCapSysResource = 24;

// lamina's capability sets (CapBnd: what it may ever have; CapEff: what it has)
std::uint64_t capability_mask(const char* which) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(which, 0) == 0)
            return std::stoull(line.substr(std::strlen(which)), nullptr, 16);
    return 0;
}

bool has_capability(int cap) { return (capability_mask("CapEff:") >> cap) & 1u; }

// ",-name" for each capability that lamina's bounding set lacks (setpriv's names)
std::string missing_capabilities() {
    static const char* const kNames[] = {"chown",
                                         "dac_override",
                                         "dac_read_search",
                                         "fowner",
                                         "fsetid",
                                         "kill",
                                         "setgid",
                                         "setuid",
                                         "setpcap",
                                         "linux_immutable",
                                         "net_bind_service",
                                         "net_broadcast",
                                         "net_admin",
                                         "net_raw",
                                         "ipc_lock",
                                         "ipc_owner",
                                         "sys_module",
                                         "sys_rawio",
                                         "sys_chroot",
                                         "sys_ptrace",
                                         "sys_pacct",
                                         "sys_admin",
                                         "sys_boot",
                                         "sys_nice",
                                         "sys_resource",
                                         "sys_time",
                                         "sys_tty_config",
                                         "mknod",
                                         "lease",
                                         "audit_write",
                                         "audit_control",
                                         "setfcap",
                                         "mac_override",
                                         "mac_admin",
                                         "syslog",
                                         "wake_alarm",
                                         "block_suspend",
                                         "audit_read",
                                         "perfmon",
                                         "bpf",
                                         "checkpoint_restore"};
    std::uint64_t bounding = capability_mask("CapBnd:");
    std::string out;
    for (std::size_t i = 0; i < std::size(kNames); ++i)
        if (!((bounding >> i) & 1u)) out += std::string(",-") + kNames[i];
    return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo
std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            int v = 0;
            bool octal = true;
            for (std::size_t k = 1; k <= 3; ++k) {
                char c = s[i + k];
                if (c < '0' || c > '7') octal = false;
                v = v * 8 + (c - '0');
            }
            if (octal) {
                out += static_cast<char>(v);
                i += 3;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

// Every mount point of the sandbox, made empty under `root` (a directory or a
// file, as it is in the sandbox): criu restores the sandbox's mounts on them.
bool make_mount_points(int pid, const fs::path& root) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/mountinfo");
    fs::path seen = "/proc/" + std::to_string(pid) + "/root";
    std::string line;
    std::error_code ec;
    fs::create_directories(root, ec);
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string id, parent, dev, mount_root, mount_point;
        if (!(fields >> id >> parent >> dev >> mount_root >> mount_point)) continue;
        fs::path rel = fs::path(unescape(mount_point)).relative_path();
        if (rel.empty()) continue;
        struct stat st {};
        bool dir = ::stat((seen / rel).c_str(), &st) != 0 || S_ISDIR(st.st_mode);
        fs::path at = root / rel;
        if (dir) {
            fs::create_directories(at, ec);
        } else {
            fs::create_directories(at.parent_path(), ec);
            std::ofstream touch(at, std::ios::app);
        }
    }
    return static_cast<bool>(in.eof());
}

}  // namespace

std::string criu_errors(const fs::path& log) {
    std::ifstream in(log);
    std::string line;
    std::vector<std::string> errors;
    while (std::getline(in, line))
        if (line.find("Error") != std::string::npos &&
            line.find("RLIMIT_NOFILE") == std::string::npos)  // harmless: criu keeps our limit
            errors.push_back(line);
    std::string out;
    for (std::size_t i = errors.size() > 3 ? errors.size() - 3 : 0; i < errors.size(); ++i)
        out += (out.empty() ? "" : "; ") + errors[i];
    return out;
}

std::optional<fs::path> find_criu() {
    std::vector<fs::path> dirs;
    if (const char* path = std::getenv("PATH")) {
        std::istringstream in(path);
        std::string d;
        while (std::getline(in, d, ':'))
            if (!d.empty()) dirs.emplace_back(d);
    }
    for (const char* d : {"/usr/sbin", "/sbin", "/usr/local/sbin"}) dirs.emplace_back(d);
    for (const auto& d : dirs)
        if (::access((d / "criu").c_str(), X_OK) == 0) return d / "criu";
    return std::nullopt;
}

std::vector<std::string> criu_environment(const fs::path& shim) {
    std::vector<std::string> env = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    if (!shim.empty() && fs::exists(shim)) env.push_back("LD_PRELOAD=" + shim.string());
    return env;
}

Result<Checkpoint> checkpoint(const fs::path& criu, const fs::path& shim, int pid,
                              const fs::path& dir, std::chrono::milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (holds_network_socket(pid)) {
        if (std::chrono::steady_clock::now() >= deadline)
            return fail(ErrorCode::Service,
                        "the runtime still held a network socket when its snapshot was to be taken "
                        "(close connections in a beforeCheckpoint hook)");
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    Checkpoint c;
    c.dir = dir / "images";
    c.root = dir / "root";
    c.stdin_pipe = link_of(pid, 0);
    c.output_pipe = link_of(pid, 1);
    if (c.stdin_pipe.rfind("pipe:", 0) != 0 || c.output_pipe.rfind("pipe:", 0) != 0)
        return fail(ErrorCode::Service, "the runtime's stdin and stdout are not lamina's pipes");
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(c.dir, ec);
    if (ec || !make_mount_points(pid, c.root))
        return fail(ErrorCode::Service, "cannot prepare the snapshot's folder " + dir.string());
    SpawnSpec s;
    // criu reads the process's limits (prlimit), which takes CAP_SYS_RESOURCE
    // unless criu's real uid and gid are the process's, and a container may
    // not grant that capability even to root: criu then runs as the sandbox's
    // user with root's other capabilities kept (ambient)
    if (auto [uid, gid] = ids_of(pid); uid > 0 && gid >= 0 && !has_capability(kCapSysResource) &&
                                       ::access("/usr/bin/setpriv", X_OK) == 0) {
        std::string caps = "+all" + missing_capabilities();
        s.argv = {"/usr/bin/setpriv",
                  "--reuid=" + std::to_string(uid),
                  "--regid=" + std::to_string(gid),
                  "--clear-groups",
                  "--inh-caps=" + caps,
                  "--ambient-caps=" + caps};
    }
    s.argv.insert(s.argv.end(), {criu.string(), "dump", "-t", std::to_string(pid), "-D",
                                 c.dir.string(), "-o", "dump.log", "--ext-mount-map", "auto",
                                 "--enable-external-sharing", "--enable-external-masters"});
    s.env = criu_environment(shim);
    s.capture_output = false;
    s.max_open_files = 65536;
    auto ended = run_to_end(s);
    if (!ended) return std::unexpected(ended.error());
    if (ended->code != 0 || ended->signal != 0)
        return fail(
            ErrorCode::Service, "criu dump failed: " + [&] {
                std::string errors = criu_errors(c.dir / "dump.log");
                return errors.empty() ? "see " + (c.dir / "dump.log").string() : errors;
            }());
    return c;
}

fs::path kernel_facts_dir() {
    // criu keeps what it learnt of the kernel in /run/criu.kdat, but only on a
    // tmpfs /run (it is then forgotten at reboot, as it must be): without it
    // each restore probes the kernel again, some 40 ms. /dev/shm is a tmpfs.
    struct statfs st {};
    if (::statfs("/dev/shm", &st) != 0 || st.f_type != TMPFS_MAGIC) return {};
    fs::path dir = "/dev/shm/lamina-criu-" + std::to_string(::getuid());
    ::mkdir(dir.c_str(), 0700);
    struct stat own {};
    // only a folder of lamina's own: criu trusts what it finds there
    if (::lstat(dir.c_str(), &own) != 0 || !S_ISDIR(own.st_mode) || own.st_uid != ::getuid() ||
        (own.st_mode & 077) != 0)
        return {};
    return dir;
}

std::vector<std::string> restore_argv(const fs::path& criu, const Checkpoint& c,
                                      const fs::path& log) {
    return {criu.string(),
            "restore",
            "-D",
            c.dir.string(),
            "-o",
            log.string(),
            "--root",
            c.root.string(),
            "--ext-mount-map",
            "auto",
            "--mntns-compat-mode",      // criu 3.17's newer mount engine fails on Linux 6.16+
            "--manage-cgroups=ignore",  // the restored process stays in criu's (its environment's)
            "--inherit-fd",
            "fd[0]:" + c.stdin_pipe,
            "--inherit-fd",
            "fd[1]:" + c.output_pipe};
}

}  // namespace lamina::sandbox
