#include "lamina/exec/debug.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

namespace lamina::exec {

namespace fs = std::filesystem;

namespace {

std::optional<int> parse_port(std::string_view s) {
    int port = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
    if (ec != std::errc() || end != s.data() + s.size() || port < 1 || port > 65535)
        return std::nullopt;
    return port;
}

bool truthy(const std::string& v) { return v == "1" || v == "true" || v == "TRUE" || v == "True"; }

}  // namespace

Result<DebugTarget> parse_debug_target(std::string_view spec) {
    auto bad = [&](const std::string& why) {
        return fail(
            ErrorCode::InvalidParameterValue,
            "--debug expects FUNCTION[:QUALIFIER]=PORT, got '" + std::string(spec) + "': " + why);
    };
    auto eq = spec.rfind('=');
    if (eq == std::string_view::npos) return bad("no =PORT");
    auto port = parse_port(spec.substr(eq + 1));
    if (!port) return bad("PORT must be a number from 1 to 65535");
    std::string_view name = spec.substr(0, eq);
    DebugTarget t;
    t.port = *port;
    if (auto colon = name.find(':'); colon != std::string_view::npos) {
        t.qualifier = std::string(name.substr(colon + 1));
        name = name.substr(0, colon);
        if (t.qualifier.empty()) return bad("empty QUALIFIER");
        for (char c : t.qualifier)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '$')
                return bad("QUALIFIER must be an alias or version ($LATEST, 1, PROD)");
    }
    if (name.empty()) return bad("empty FUNCTION");
    for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
            return bad("FUNCTION must be a function name (letters, digits, - and _)");
    t.function = std::string(name);
    return t;
}

Result<std::optional<DebugLaunch>> debug_launch_for(const std::vector<DebugTarget>& targets,
                                                    bool wait, const std::string& function,
                                                    const std::string& qualifier,
                                                    const control::VersionConfig& config) {
    const DebugTarget* any = nullptr;
    for (const auto& t : targets) {
        if (t.function != function) continue;
        if (!t.qualifier.empty() && t.qualifier == qualifier)
            return std::optional<DebugLaunch>(DebugLaunch{t.port, wait, "--debug"});
        if (t.qualifier.empty() && !any) any = &t;
    }
    if (any) return std::optional<DebugLaunch>(DebugLaunch{any->port, wait, "--debug"});
    if (!config.environment) return std::optional<DebugLaunch>();
    auto it = config.environment->find(kDebugPortVariable);
    if (it == config.environment->end() || it->second.empty()) return std::optional<DebugLaunch>();
    auto port = parse_port(it->second);
    if (!port)
        return fail(ErrorCode::InvalidParameterValue,
                    std::string(kDebugPortVariable) +
                        " must be a port number from 1 to 65535, got '" + it->second + "'");
    auto w = config.environment->find(kDebugWaitVariable);
    bool wait_var = w != config.environment->end() && truthy(w->second);
    return std::optional<DebugLaunch>(DebugLaunch{*port, wait_var, kDebugPortVariable});
}

Status check_port_free(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(ErrorCode::Service, std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    int err = errno;
    if (rc == 0) rc = ::listen(fd, 1), err = errno;
    ::close(fd);
    if (rc == 0) return {};
    return fail(ErrorCode::ResourceConflict, "debug port 127.0.0.1:" + std::to_string(port) +
                                                 " is in use (" + std::strerror(err) + ")");
}

bool client_connected_in(std::string_view table, int port) {
    // "  sl  local_address rem_address   st ...": addresses are HEXIP:HEXPORT, st 01 is ESTABLISHED
    char want[16];  // 127.0.0.1 as the kernel prints it (little-endian hex), then the port
    std::snprintf(want, sizeof want, "0100007F:%04X", static_cast<unsigned>(port));
    std::size_t pos = table.find('\n');  // the header
    while (pos != std::string_view::npos && pos + 1 < table.size()) {
        std::size_t end = table.find('\n', pos + 1);
        std::string_view line = table.substr(
            pos + 1, end == std::string_view::npos ? std::string_view::npos : end - pos - 1);
        pos = end;
        std::istringstream in{std::string(line)};
        std::string sl, local, remote, st;
        if (!(in >> sl >> local >> remote >> st)) continue;
        if (st != "01") continue;
        if (local == want) return true;
    }
    return false;
}

bool client_connected(int port) {
    std::ifstream in("/proc/net/tcp");
    std::string table((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return client_connected_in(table, port);
}

Result<fs::path> debugpy_path(const fs::path& work_dir) {
    static std::mutex mu;
    std::lock_guard lk(mu);
    const fs::path site = "/usr/lib/python3/dist-packages";
    fs::path dir = work_dir / "debugpy-path";
    if (fs::exists(dir / "debugpy")) return dir;
    std::error_code ec;
    if (!fs::exists(site / "debugpy" / "__init__.py", ec))
        return fail(ErrorCode::NotImplemented,
                    "debugging a Python function needs debugpy: install Debian's python3-debugpy "
                    "(apt-get install python3-debugpy); " +
                        (site / "debugpy").string() + " is not there");
    // only debugpy, pydevd (which Debian ships apart) and what pydevd imports
    // (bytecode, typing_extensions): nothing else of the host's packages
    // becomes importable by the function
    fs::path tmp = work_dir / ("debugpy-path.tmp-" + std::to_string(::getpid()));
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec) return fail(ErrorCode::Service, "cannot make " + tmp.string() + ": " + ec.message());
    fs::permissions(tmp, fs::perms(0755), ec);
    for (const auto& e : fs::directory_iterator(site, ec)) {
        std::string name = e.path().filename().string();
        bool wanted = false;
        for (const char* prefix : {"debugpy", "pydev", "_pydev", "bytecode", "typing_extensions"})
            wanted = wanted || name.rfind(prefix, 0) == 0;
        if (wanted) {
            std::error_code link_ec;
            fs::create_symlink(e.path(), tmp / name, link_ec);
        }
    }
    fs::rename(tmp, dir, ec);
    if (ec) {
        fs::remove_all(tmp, ec);
        return fail(ErrorCode::Service, "cannot make " + dir.string());
    }
    return dir;
}

}  // namespace lamina::exec
