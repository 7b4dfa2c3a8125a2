// Starting an execution environment: the code and /opt views, the runtime's
// command and AWS's environment variables, its cgroups, then the launcher.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <fstream>

#include "architecture.hpp"
#include "environment.hpp"
#include "lamina/common/log.hpp"
#include "lamina/exec/invoker.hpp"
#include "lamina/oci/unpack.hpp"
#include "platform_log.hpp"

namespace lamina::exec {

namespace fs = std::filesystem;

namespace {

std::string find_executable(const std::vector<std::string>& candidates) {
    for (const auto& c : candidates)
        if (::access(c.c_str(), X_OK) == 0) return c;
    return {};
}

// An interpreter installed outside the system dirs the sandbox binds (a
// pyenv or nvm install): its prefix, the parent of its bin/, to bind read-only.
std::optional<fs::path> install_prefix(const std::string& interpreter) {
    std::error_code ec;
    fs::path real = fs::canonical(interpreter, ec);
    if (ec) return std::nullopt;
    for (const char* system : {"/usr/", "/bin/", "/lib/", "/lib64/", "/sbin/"})
        if (real.string().rfind(system, 0) == 0) return std::nullopt;
    fs::path prefix = real.parent_path().parent_path();
    if (prefix.empty() || prefix == prefix.root_path()) return std::nullopt;
    return prefix;
}

// The external extensions of an /opt view: executable files in
// /opt/extensions, by name (AWS starts each of them before the runtime).
std::vector<std::string> list_extensions(const fs::path& opt_dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(opt_dir / "extensions", ec)) {
        struct stat st {};
        if (::stat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
            names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

// The executable files in an image's /opt/extensions, never following a
// link of the image out of its root.
std::vector<std::string> list_image_extensions(const fs::path& rootfs) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const char* part : {"opt", "opt/extensions"})
        if (fs::is_symlink(rootfs / part, ec)) return names;
    for (const auto& e : fs::directory_iterator(rootfs / "opt" / "extensions", ec)) {
        struct stat st {};
        if (::lstat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
            names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

// A group is removable once every process in it is gone; the last of a
// sandbox's processes may take a moment after its leader: tried again later.
void remove_cgroup(boost::asio::io_context& ioc, const sandbox::MemoryCgroups& memory,
                   const std::string& name, int attempts_left) {
    memory.remove(name);
    if (!fs::exists(memory.root() / name) || attempts_left <= 1) return;
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc, std::chrono::milliseconds(10));
    timer->async_wait(
        [&ioc, timer, memory, name, attempts_left](const boost::system::error_code& ec) {
            if (!ec) remove_cgroup(ioc, memory, name, attempts_left - 1);
        });
}

// The loopback address sandbox.localdomain names in one environment: each its
// own (127.100.0.1 onwards), so that extensions of two environments listening
// on the same port do not clash.
std::string next_sandbox_ip() {
    static std::atomic<std::uint32_t> counter{0};
    std::uint32_t n = counter++ % (254 * 256);
    return "127.100." + std::to_string(n / 254) + "." + std::to_string(n % 254 + 1);
}

// The environment's /etc/hosts: the host's, plus sandbox.localdomain.
bool write_hosts(const fs::path& file, const std::string& ip) {
    std::ifstream in("/etc/hosts");
    std::string hosts((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!hosts.empty() && hosts.back() != '\n') hosts += '\n';
    std::ofstream out(file, std::ios::trunc);
    out << hosts << ip << " sandbox.localdomain sandbox\n";
    return static_cast<bool>(out);
}

// The Java runtimes, by the JVM feature release each needs (java8.al2 and
// java11 run on any newer JVM: the host's Java 17).
constexpr std::pair<const char*, int> kJavaRuntimes[] = {
    {"java8", 8}, {"java8.al2", 8}, {"java11", 11}, {"java17", 17}, {"java21", 21}, {"java25", 25}};

int java_feature_release(const std::string& rt) {
    for (const auto& [id, release] : kJavaRuntimes)
        if (rt == id) return release;
    return 0;
}

// A JVM's feature release, from the release file of its home (bin/java's
// parent's parent): JAVA_VERSION="17.0.15" -> 17, "1.8.0_412" -> 8; 0 unknown.
int jvm_feature_release(const std::string& java) {
    std::error_code ec;
    fs::path real = fs::canonical(java, ec);
    if (ec) return 0;
    std::ifstream in(real.parent_path().parent_path() / "release");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("JAVA_VERSION=\"", 0) != 0) continue;
        std::string v = line.substr(14);
        if (v.rfind("1.", 0) == 0) v = v.substr(2);
        int major = 0;
        for (char ch : v) {
            if (ch < '0' || ch > '9') break;
            major = major * 10 + (ch - '0');
        }
        return major;
    }
    return 0;
}

// What a JVM's home links to under /etc (Debian's conf/security/java.security
// is a link into /etc/java-17-openjdk): the /etc folders to bind beside it.
std::vector<fs::path> jvm_etc_dirs(const std::string& java) {
    std::vector<fs::path> out;
    std::error_code ec;
    fs::path home = fs::canonical(java, ec).parent_path().parent_path();
    if (ec) return out;
    for (fs::recursive_directory_iterator it(home / "conf", ec), end; !ec && it != end;
         it.increment(ec)) {
        if (!it->is_symlink(ec)) continue;
        fs::path target = fs::read_symlink(it->path(), ec);
        if (ec || target.is_relative()) continue;
        auto part = target.begin();
        if (part == target.end() || ++part == target.end() || *part != "etc" ||
            ++part == target.end())
            continue;
        fs::path dir = fs::path("/etc") / *part;
        if (std::find(out.begin(), out.end(), dir) == out.end()) out.push_back(dir);
    }
    return out;
}

// The JVM's command line as AWS's Java runtimes start it: the heap at 85% of
// MemorySize (in KiB, rounded: 512 MB -> 445645k), the serial collector, and
// from java17 on tiered compilation stopped at C1. UTF-8 as the default charset
// and System.out/err's (file.encoding; stdout/stderr.encoding from Java 18 on),
// as AWS's JVM has it from LANG=en_US.UTF-8: the host may lack that locale, and
// the JVM would then fall back to ASCII, printing "?" for every other character.
// JAVA_TOOL_OPTIONS, in the environment, is read by the JVM itself.
std::vector<std::string> java_command(const std::string& java, const std::string& rt, int memory_mb,
                                      const std::string& runtime_dir, const std::string& opt) {
    std::int64_t heap_kib = (static_cast<std::int64_t>(memory_mb) * 1024 * 85 + 50) / 100;
    std::vector<std::string> cmd = {java, "-XX:MaxHeapSize=" + std::to_string(heap_kib) + "k",
                                    "-XX:+UseSerialGC", "-Xshare:auto"};
    if (java_feature_release(rt) >= 17) {
        cmd.emplace_back("-XX:+TieredCompilation");
        cmd.emplace_back("-XX:TieredStopAtLevel=1");
    }
    cmd.insert(cmd.end(), {"-Dfile.encoding=UTF-8", "-Dstdout.encoding=UTF-8",
                           "-Dstderr.encoding=UTF-8", "-Djava.net.preferIPv4Stack=true",
                           "-classpath", runtime_dir + "/java/lamina-java-runtime.jar",
                           "lamina.runtime.Bootstrap", "--opt", opt});
    return cmd;
}

}  // namespace

std::map<std::string, std::string> default_interpreters(
    const std::map<std::string, std::string>& overrides) {
    std::map<std::string, std::string> out;
    for (const char* v : {"3.9", "3.10", "3.11", "3.12", "3.13", "3.14"}) {
        std::string exact = find_executable(
            {std::string("/usr/bin/python") + v, std::string("/usr/local/bin/python") + v});
        std::string any = find_executable({"/usr/bin/python3", "/usr/local/bin/python3"});
        std::string chosen = exact.empty() ? any : exact;
        if (!chosen.empty()) out[std::string("python") + v] = chosen;
    }
    std::string node = find_executable({"/usr/bin/node", "/usr/local/bin/node"});
    if (!node.empty())
        for (const char* v : {"nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x"})
            out[v] = node;
    // The host's JVM (Debian's openjdk-17), for each Java runtime it can run
    std::string java = find_executable(
        {"/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "/usr/bin/java", "/usr/local/bin/java"});
    if (!java.empty()) {
        std::error_code ec;
        fs::path real = fs::canonical(java, ec);  // /usr/bin/java links through /etc/alternatives
        if (!ec) java = real.string();
        int release = jvm_feature_release(java);
        for (const auto& [id, needs] : kJavaRuntimes)
            if (release >= needs) out[id] = java;
    }
    // AWS's Ruby versions on the same version if installed, else on the host's ruby
    std::string ruby = find_executable({"/usr/bin/ruby", "/usr/local/bin/ruby"});
    for (const char* v : {"3.2", "3.3", "3.4"}) {
        std::string exact = find_executable(
            {std::string("/usr/bin/ruby") + v, std::string("/usr/local/bin/ruby") + v});
        std::string chosen = exact.empty() ? ruby : exact;
        if (!chosen.empty()) out[std::string("ruby") + v] = chosen;
    }
    for (const auto& [k, v] : overrides) out[k] = v;
    return out;
}

void name_log_stream(Environment& env, const InvokeRequest& req, std::int64_t now, IdSource& ids) {
    std::string date = format_iso8601(now).substr(0, 10);
    for (auto& ch : date)
        if (ch == '-') ch = '/';
    env.log_stream = date + "/[" + req.config.version + "]" + ids.hex(32);
}

namespace {
// The file of env's log stream, under its log group: /aws/lambda/<name>.
void open_log_file(Environment& env, const ExecSettings& settings, const InvokeRequest& req) {
    if (settings.logs_dir.empty()) return;
    const auto& c = req.config;
    std::string group = c.log_group.empty() ? "/aws/lambda/" + req.function_name : c.log_group;
    std::string stream = env.log_stream;
    for (auto& ch : stream)
        if (ch == '/') ch = '-';
    fs::path dir =
        settings.logs_dir / req.scope.account / req.scope.region / fs::path(group).relative_path();
    std::error_code mkdir_ec;
    fs::create_directories(dir, mkdir_ec);
    env.open_log(dir / (stream + ".log"), settings.log_store,
                 logs::Where{req.scope.account, req.scope.region}, group);
}
}  // namespace

std::vector<std::string> open_memory_group(Environment& env, const ExecSettings& settings,
                                           int memory_mb, IdSource& ids) {
    if (!settings.memory) return {};
    env.cgroup = "env-" + ids.hex(12);
    auto procs =
        settings.memory->create(env.cgroup, static_cast<std::int64_t>(memory_mb) * 1024 * 1024);
    if (!procs) {
        env.cgroup.clear();
        return {};
    }
    env.peak_fd = settings.memory->open_peak(env.cgroup);
    return *procs;
}

void open_log_stream(Environment& env, const ExecSettings& settings, const InvokeRequest& req,
                     std::int64_t now, IdSource& ids) {
    name_log_stream(env, req, now, ids);
    open_log_file(env, settings, req);
}

void Invoker::begin_init(Environment& env, const InvokeRequest& req, std::int64_t now) {
    const auto& c = req.config;
    open_log_file(env, settings_, req);
    const PlatformLog plog(c);
    {
        std::lock_guard lk(env.mu);
        env.init_log = plog.init_start(env.init_type, now);
    }
    env.api->telemetry().publish(runtime::RecordKind::Platform,
                                 runtime::records::init_start(now, env.init_type));
}

Result<oci::ImageRoots::Root> Invoker::image_root_of(const InvokeRequest& req) {
    const auto& c = req.config;
    if (launcher_->backend() != sandbox::Backend::Bubblewrap)
        return fail(ErrorCode::NotImplemented,
                    "lamina runs container-image functions in its bubblewrap sandbox only (the "
                    "image's file system becomes the environment's root): this server runs "
                    "functions as plain processes (--sandbox process, or bubblewrap cannot make "
                    "namespaces here), so " +
                        req.function_name + " cannot run");
    if (!images_) return fail(ErrorCode::Service, "lamina has no folder for unpacked images");
    auto root = images_->find(c.code_sha256);
    if (!root) {
        if (!image_source_)
            return fail(ErrorCode::NotImplemented,
                        "lamina's image registry is not available in this server, so the image " +
                            c.image_uri + " of " + req.function_name + " cannot be unpacked");
        auto resolved = image_source_->resolve(req.scope.account, req.scope.region,
                                               c.image_repository, "sha256:" + c.code_sha256);
        if (!resolved)
            return fail(ErrorCode::InvalidParameterValue,
                        "the image " + c.image_repository + "@sha256:" + c.code_sha256 + " of " +
                            req.function_name +
                            " is no longer in lamina's registry: push it again, or update the "
                            "function's code");
        auto unpacked = images_->ensure(*resolved, *image_source_);
        if (!unpacked)
            return fail(unpacked.error().code,
                        "the image " + c.image_uri + " of " + req.function_name +
                            " cannot be unpacked: " + unpacked.error().message);
        root = std::move(*unpacked);
    }
    std::string host = host_architecture();
    std::string arch = oci::lambda_architecture(root->config.architecture);
    if (!arch.empty() && arch != c.architecture)  // as on AWS: the entrypoint cannot start
        return fail(ErrorCode::InvalidRequestContent,
                    std::string(kImageEntrypointError) + "fork/exec " +
                        (root->config.entrypoint.empty() ? std::string("entrypoint")
                                                         : root->config.entrypoint.front()) +
                        ": exec format error (the image is " + root->config.architecture +
                        ", the function's Architectures [" + c.architecture + "])");
    if (c.architecture != host)
        return fail(ErrorCode::NotImplemented, "lamina runs code natively on this " + host +
                                                   " host and cannot run the " + c.architecture +
                                                   " image of " + req.function_name);
    return *root;
}

Result<EnvPtr> Invoker::start_environment(const InvokeRequest& req, const std::string& key,
                                          const std::string& init_type,
                                          const std::optional<DebugLaunch>& debug, bool spare,
                                          const std::function<void(Environment&)>& prepare) {
    const auto& c = req.config;
    if (spare && (debug || !c.hot_reload_folders().empty() ||
                  (c.runtime.rfind("python", 0) != 0 && c.runtime.rfind("nodejs", 0) != 0)))
        return fail(ErrorCode::NotImplemented,
                    "spare environments run lamina's Python and Node.js runtimes only, never "
                    "debugged or hot-reloaded");
    // Hot reload: which changes of its folders it starts after (taken before
    // anything is read from them: a change from here on makes it stale).
    std::vector<std::pair<std::string, std::uint64_t>> hot_folders;
    for (auto& folder : c.hot_reload_folders()) {
        std::lock_guard lk(mu_);
        auto it = folder_changes_.find(folder);
        hot_folders.emplace_back(std::move(folder), it == folder_changes_.end() ? 0 : it->second);
    }
    auto live_folder = [](const std::string& folder) -> Result<fs::path> {
        std::error_code ec;
        if (!fs::is_directory(folder, ec))
            return fail(ErrorCode::ResourceNotFound,
                        "the hot-reload folder " + folder +
                            " is not there any more: create it again, or update the code");
        return fs::path(folder);
    };
    const bool image = c.package_type == "Image";
    fs::path code_dir, opt_dir;
    std::optional<oci::ImageRoots::Root> image_root;
    if (image) {
        LAMINA_TRY(root, image_root_of(req));
        image_root = std::move(root);
    } else {
        if (!c.code_path.empty()) {
            LAMINA_TRY(live, live_folder(c.code_path));  // bound as it is: its live contents run
            code_dir = std::move(live);
        } else {
            LAMINA_TRY(extracted, cache_.ensure_extracted(c.code_blob));
            code_dir = std::move(extracted);
        }
        if (c.layers.size() == 1 && !c.layers.front().path.empty()) {
            LAMINA_TRY(live,
                       live_folder(c.layers.front().path));  // a hot-reload layer: /opt itself
            opt_dir = std::move(live);
        } else {
            std::vector<std::string> layer_blobs;
            layer_blobs.reserve(c.layers.size());
            for (const auto& l : c.layers) {
                if (!l.path.empty())
                    return fail(
                        ErrorCode::InvalidParameterValue,
                        "the hot-reload layer " + l.arn + " must be the function's only layer");
                layer_blobs.push_back(l.blob);
            }
            LAMINA_TRY(assembled, cache_.assemble(layer_blobs));
            opt_dir = std::move(assembled);
        }
        LAMINA_CHECK(
            check_architecture(req.function_name, c.runtime, c.architecture, code_dir, opt_dir));
    }
    if (spare && (image || !list_extensions(opt_dir).empty()))  // their init would run ahead
        return fail(ErrorCode::NotImplemented,
                    "no spare environments for image functions or functions with extensions");

    auto env = std::make_shared<Environment>();
    env->hot_folders = std::move(hot_folders);
    env->key = key;
    env->version = c.version;
    env->init_type = init_type;
    env->memory_mb = c.memory_size;
    std::int64_t now = clock_.now_ms();
    name_log_stream(*env, req, now, ids_);
    LAMINA_TRY(api, runtime::RuntimeApi::open(ioc_, ids_));
    env->api = std::move(api);
    env->json_logs = c.log_format == "JSON";
    if (debug) {
        env->debug_port = debug->port;
        env->debug_wait = debug->wait;
    }
    const PlatformLog plog(c);
    // A spare's init begins when an invocation claims it (claim_spare): its
    // log stream, INIT_START and Init Duration count from there.
    if (spare)
        env->api->hold();
    else
        begin_init(*env, req, now);

    sandbox::LaunchSpec spec;
    spec.code_dir = code_dir;
    spec.opt_dir = opt_dir;
    spec.runtime_dir = settings_.runtimes_dir;
    spec.tmp_dir = settings_.work_dir / ("env-" + ids_.hex(12));
    spec.tmp_size_mb = c.ephemeral_storage;
    std::error_code ec;
    fs::create_directories(spec.tmp_dir, ec);
    auto paths = launcher_->paths(spec);
    env->tmp_seen = paths.tmp;
    if (launcher_->backend() == sandbox::Backend::Bubblewrap) {
        // Telemetry subscribers listen on sandbox.localdomain: the environment's own address
        std::string ip = next_sandbox_ip();
        if (write_hosts(spec.tmp_dir / "hosts", ip)) {
            spec.etc_files["/etc/hosts"] = spec.tmp_dir / "hosts";
            env->api->telemetry().set_host(ip);
            env->sandbox_ip = ip;
        }
    }

    const std::string& rt = c.runtime;
    bool python = !image && rt.rfind("python", 0) == 0;
    bool node = !image && rt.rfind("nodejs", 0) == 0;
    bool provided = !image && rt.rfind("provided", 0) == 0;
    int java_release = image ? 0 : java_feature_release(rt);
    bool ruby = !image && rt.rfind("ruby", 0) == 0;
    if (image) {
        if (debug)
            return fail(ErrorCode::NotImplemented,
                        "lamina attaches debuggers to Python and Node.js zip functions only (" +
                            debug->source + "): not to container-image functions");
        const auto& ic = c.image_config;
        const auto& own = image_root->config;
        spec.image_root = image_root->rootfs;
        spec.command = ic && ic->entry_point ? *ic->entry_point : own.entrypoint;
        const auto& args = ic && ic->command ? *ic->command : own.cmd;
        spec.command.insert(spec.command.end(), args.begin(), args.end());
        spec.working_dir = ic && ic->working_directory ? *ic->working_directory
                           : own.working_dir.empty()   ? "/"
                                                       : own.working_dir;
        if (spec.command.empty())
            return fail(ErrorCode::InvalidRequestContent,
                        std::string(kImageEntrypointError) +
                            "the image has no ENTRYPOINT or CMD and ImageConfig sets none");
        if (settings_.run_as) {
            static const auto kSetprivRuntime = sandbox::find_setpriv_runtime(spec.setpriv);
            spec.setpriv_runtime = kSetprivRuntime;
        }
    } else if (python) {
        auto it = settings_.interpreters.find(rt);
        if (it == settings_.interpreters.end())
            return fail(ErrorCode::NotImplemented, "lamina has no interpreter for " + rt +
                                                       ": start it with --runtime " + rt +
                                                       "=/path/to/python3");
        spec.command = {it->second, "-S",     "-u", paths.runtime_dir + "/python/bootstrap.py",
                        "--opt",    paths.opt};
        if (spare) spec.command.emplace_back("--spare");
        if (auto prefix = install_prefix(it->second)) spec.extra_ro_binds.push_back(*prefix);
        if (debug) {
            // the bootstrap starts debugpy (from a folder of it and pydevd only) before the init
            LAMINA_TRY(debugpy, debugpy_path(settings_.work_dir));
            spec.extra_ro_binds.push_back(debugpy);
            // frozen standard modules would hide lines from pydevd (Python 3.11+; older ones ignore it)
            spec.command.insert(spec.command.begin() + 1, "-Xfrozen_modules=off");
            spec.command.insert(spec.command.end(), {"--debug", std::to_string(debug->port),
                                                     "--debugpy", debugpy.string()});
            if (debug->wait) spec.command.emplace_back("--debug-wait");
        }
    } else if (node) {
        auto it = settings_.interpreters.find(rt);
        if (it == settings_.interpreters.end())
            return fail(ErrorCode::NotImplemented, "lamina has no Node.js for " + rt +
                                                       ": start it with --runtime " + rt +
                                                       "=/path/to/node");
        spec.command = {it->second, paths.runtime_dir + "/node/bootstrap.js"};
        if (spare) spec.command.emplace_back("--spare");
        if (debug)  // node's own inspector; --inspect-brk stops at the bootstrap's first line
            spec.command.insert(spec.command.begin() + 1,
                                std::string(debug->wait ? "--inspect-brk" : "--inspect") +
                                    "=127.0.0.1:" + std::to_string(debug->port));
        if (auto prefix = install_prefix(it->second)) spec.extra_ro_binds.push_back(*prefix);
    } else if (java_release > 0) {
        auto it = settings_.interpreters.find(rt);
        if (it == settings_.interpreters.end())
            return fail(ErrorCode::NotImplemented,
                        "lamina has no Java " + std::to_string(java_release) +
                            " (or newer) JVM for " + rt + ": start it with --runtime " + rt +
                            "=/path/to/bin/java");
        if (!fs::exists(settings_.runtimes_dir / "java" / "lamina-java-runtime.jar"))
            return fail(ErrorCode::NotImplemented,
                        "lamina was built without its Java runtime (no javac at build time): "
                        "runtimes/java/lamina-java-runtime.jar is missing");
        if (debug)
            return fail(ErrorCode::NotImplemented,
                        "lamina attaches debuggers to Python and Node.js functions only (" +
                            debug->source + "): not to " + rt + " functions");
        spec.command = java_command(it->second, rt, c.memory_size, paths.runtime_dir, paths.opt);
        if (init_type == "snap-start" && launcher_->backend() == sandbox::Backend::Bubblewrap) {
            // checkpointed with criu (snapstart.cpp): pid 1 of its sandbox, no
            // perf-data file in /tmp, its stdin a pipe of lamina's
            spec.as_pid_1 = true;
            spec.command.insert(spec.command.begin() + 1, "-XX:-UsePerfData");
            if (jvm_feature_release(it->second) >= 14)
                // the class-data archive mapped at the address it was made
                // for, not at a random one (JDK 17's default, which rewrites
                // some 6 MB of its pointers): its pages stay the file's, left
                // out of the checkpoint and mapped by each restore rather
                // than copied (all restores share the snapshot's layout anyway)
                spec.command.insert(spec.command.begin() + 1, {"-XX:+UnlockDiagnosticVMOptions",
                                                               "-XX:ArchiveRelocationMode=0"});
            int fds[2];
            if (::pipe2(fds, O_CLOEXEC) != 0)
                return fail(ErrorCode::Service, "pipe failed for the snapshot's stdin");
            spec.stdin_fd = fds[0];
            env->checkpoint_stdin = fds[1];
        }
        if (auto prefix = install_prefix(it->second)) spec.extra_ro_binds.push_back(*prefix);
        for (auto& dir : jvm_etc_dirs(it->second)) spec.extra_ro_binds.push_back(std::move(dir));
    } else if (ruby) {
        auto it = settings_.interpreters.find(rt);
        if (it == settings_.interpreters.end())
            return fail(ErrorCode::NotImplemented, "lamina has no Ruby for " + rt +
                                                       ": start it with --runtime " + rt +
                                                       "=/path/to/ruby");
        if (debug)
            return fail(ErrorCode::NotImplemented,
                        "lamina attaches debuggers to Python and Node.js functions only (" +
                            debug->source + "): not to " + rt + " functions");
        spec.command = {it->second, paths.runtime_dir + "/ruby/bootstrap.rb"};
        if (auto prefix = install_prefix(it->second)) spec.extra_ro_binds.push_back(*prefix);
    } else if (provided) {
        if (debug)
            return fail(ErrorCode::NotImplemented,
                        "lamina attaches debuggers to Python and Node.js functions only (" +
                            debug->source + "): a " + rt + " function brings its own bootstrap");
        if (fs::exists(code_dir / "bootstrap"))
            spec.command = {paths.task_root + "/bootstrap"};
        else if (fs::exists(opt_dir / "bootstrap"))
            spec.command = {paths.opt + "/bootstrap"};
        else
            return fail(
                ErrorCode::InvalidRequestContent,
                std::string(runtime::to_string(runtime::ErrorType::RuntimeInvalidEntrypoint)));
    } else {
        return fail(ErrorCode::NotImplemented,
                    "lamina does not run " + rt +
                        " functions yet (Python, Node.js, Java, Ruby and provided runtimes only).");
    }

    if (image) {
        if (auto extensions = list_image_extensions(image_root->rootfs); !extensions.empty()) {
            // lamina's own static launcher starts them: the image needs no shell
            fs::path launch = settings_.runtimes_dir / "extensions" / "launch";
            if (::access(launch.c_str(), X_OK) != 0)
                return fail(ErrorCode::NotImplemented,
                            "lamina was built without its static extensions launcher "
                            "(runtimes/extensions/launch needs a static C library at build "
                            "time), so the extensions in the image's /opt/extensions (" +
                                extensions.front() + ") cannot start");
            spec.extensions_launcher = launch;
            spec.command.insert(spec.command.begin(), {sandbox::kImageExtensionsLauncher, "/opt"});
            env->api->expect_extensions(std::move(extensions), {req.function_name, c.version,
                                                                c.handler, req.scope.account});
        }
    } else if (auto extensions = list_extensions(opt_dir); !extensions.empty()) {
        std::vector<std::string> launch = {"/bin/bash", paths.runtime_dir + "/extensions/launch.sh",
                                           paths.opt};
        if (init_type == "snap-start") {
            // a SnapStart snapshot: lamina cannot fork the extensions' processes
            // with the runtime's, so they start in each restored environment
            // instead (their init is part of its restore), never here
            env->restore_extensions = std::move(extensions);
            env->restore_launch = std::move(launch);
        } else {
            // extensions start first, then the launcher becomes the runtime
            spec.command.insert(spec.command.begin(), launch.begin(), launch.end());
            env->api->expect_extensions(std::move(extensions), {req.function_name, c.version,
                                                                c.handler, req.scope.account});
        }
    }

    auto& e = spec.env;
    if (image) {
        // the image's ENV first: Lambda's variables and the function's win
        for (const auto& kv : image_root->config.env) {
            auto eq = kv.find('=');
            if (eq != std::string::npos && eq > 0) e[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
    }
    e["AWS_LAMBDA_FUNCTION_NAME"] = req.function_name;
    e["AWS_LAMBDA_FUNCTION_VERSION"] = c.version;
    e["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = std::to_string(c.memory_size);
    if (init_type != "snap-start") {  // AWS sets neither for SnapStart functions
        e["AWS_LAMBDA_LOG_GROUP_NAME"] =
            c.log_group.empty() ? "/aws/lambda/" + req.function_name : c.log_group;
        e["AWS_LAMBDA_LOG_STREAM_NAME"] = env->log_stream;
    }
    e["AWS_LAMBDA_RUNTIME_API"] = env->api->address();
    e["AWS_LAMBDA_INITIALIZATION_TYPE"] = init_type;
    e["AWS_REGION"] = req.scope.region;
    e["AWS_DEFAULT_REGION"] = req.scope.region;
    if (image) {
        // an image brings its own PATH, LAMBDA_TASK_ROOT and handler (CMD)
        if (!e.contains("PATH"))
            e["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        if (!e.contains("TZ")) e["TZ"] = ":UTC";
    } else {
        e["LAMBDA_TASK_ROOT"] = paths.task_root;
        e["LAMBDA_RUNTIME_DIR"] = paths.runtime_dir;
        e["_HANDLER"] = c.handler;
        if (!provided) e["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + rt;
        e["TZ"] = ":UTC";
        e["LANG"] = "en_US.UTF-8";
        e["PATH"] = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:" + paths.opt + "/bin";
        e["LD_LIBRARY_PATH"] = "/var/lang/lib:/lib64:/usr/lib64:" + paths.runtime_dir + ":" +
                               paths.runtime_dir + "/lib:" + paths.task_root + ":" +
                               paths.task_root + "/lib:" + paths.opt + "/lib";
    }
    if (python) e["PYTHONPATH"] = paths.runtime_dir;
    if (node) {
        std::string major = rt.substr(6, rt.find('.') - 6);  // nodejs20.x -> 20
        e["NODE_PATH"] = paths.opt + "/nodejs/node" + major + "/node_modules:" + paths.opt +
                         "/nodejs/node_modules:" + paths.runtime_dir +
                         "/node_modules:" + paths.runtime_dir + ":" + paths.task_root;
    }
    if (ruby) {
        // as AWS: the declared version's ABI directories (ruby3.3 -> 3.3.0)
        std::string abi = rt.substr(4) + ".0";
        e["GEM_HOME"] = paths.runtime_dir;
        e["GEM_PATH"] = paths.task_root + "/vendor/bundle/ruby/" + abi + ":" + paths.opt +
                        "/ruby/gems/" + abi + ":" + paths.runtime_dir + ":" + paths.runtime_dir +
                        "/ruby/" + abi;
        e["RUBYLIB"] =
            paths.task_root + ":" + paths.runtime_dir + "/lib:" + paths.opt + "/ruby/lib";
    }
    // Credentials name the function's account: SDK calls made inside reach lamina in that account.
    e["AWS_ACCESS_KEY_ID"] = req.scope.account;
    e["AWS_SECRET_ACCESS_KEY"] = "lamina";
    if (auto keys = settings_.account_keys.find(req.scope.account);
        keys != settings_.account_keys.end()) {
        e["AWS_ACCESS_KEY_ID"] =
            keys->second.first;  // lamina verifies signatures: a real key of the account
        e["AWS_SECRET_ACCESS_KEY"] = keys->second.second;
    }
    e["AWS_SESSION_TOKEN"] = "lamina";
    e["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR";
    if (!settings_.endpoint_url.empty()) e["AWS_ENDPOINT_URL"] = settings_.endpoint_url;
    // LoggingConfig, as AWS tells runtimes: the format, and in JSON the application's level
    e["AWS_LAMBDA_LOG_FORMAT"] = c.log_format == "JSON" ? "JSON" : "Text";
    if (c.log_format == "JSON")
        e["AWS_LAMBDA_LOG_LEVEL"] = c.application_log_level.value_or("INFO");
    if (launcher_->backend() == sandbox::Backend::Process) e["TMPDIR"] = paths.tmp;
    if (c.environment)
        for (const auto& [k, v] : *c.environment) e[k] = v;

    std::vector<std::string> cgroup_procs = open_memory_group(*env, settings_, c.memory_size, ids_);
    std::weak_ptr<Environment> weak = env;
    // the hooks are in place before the process runs: it may finish its init at once
    env->api->on_ready([this, weak, plog, init_type] {
        if (auto e = weak.lock()) {
            std::function<void()> hook;
            double init_ms = 0;
            {
                std::lock_guard lk(e->mu);
                e->apply(EnvEvent::InitDone);
                hook = std::move(e->ready_hook);
                init_ms =
                    std::chrono::duration<double, std::milli>(e->ready_at - e->spawned_at).count();
            }
            // init's output and records, before the first invocation's
            std::int64_t now = clock_.now_ms();
            std::string init =
                plog.application(e->take_output()) + plog.init_done(init_type, init_ms, now);
            {
                std::lock_guard lk(e->mu);
                e->init_log += init;
                e->ready_epoch_ms = now;
            }
            auto& telemetry = e->api->telemetry();
            telemetry.publish(runtime::RecordKind::Platform,
                              runtime::records::init_runtime_done(now, init_type, "success", ""));
            telemetry.publish(
                runtime::RecordKind::Platform,
                runtime::records::init_report(now, init_type, "success", "", init_ms));
            if (hook) hook();
        }
    });
    env->api->on_init_error([weak](runtime::Outcome o) {
        if (auto e = weak.lock()) {
            // a runtime exits after /init/error by itself; a failed extension
            // leaves the runtime waiting, so the environment is ended here
            bool extension = o.platform_error && runtime::is_extension_error(*o.platform_error);
            {
                std::lock_guard lk(e->mu);
                e->init_error = std::move(o);
            }
            if (extension) e->kill();
        }
    });
    if (prepare) prepare(*env);
    env->spawned_at = Environment::Clk::now();
    int stdin_fd = spec.stdin_fd;  // lamina's copy of the read end: the runtime has its own
    auto launched = launcher_->launch(std::move(spec), std::move(cgroup_procs),
                                      [this, weak](sandbox::ExitStatus st) {
                                          if (auto e = weak.lock()) on_process_exit(e, st);
                                      });
    if (stdin_fd >= 0) ::close(stdin_fd);
    LAMINA_TRY(pid, adopt_started(env, std::move(launched)));
    logger("exec")->debug("exec.env_start function={} version={} pid={} backend={}{}",
                          req.function_name, c.version, pid,
                          sandbox::to_string(launcher_->backend()), spare ? " spare=true" : "");
    return env;
}

void Invoker::on_process_exit(const EnvPtr& env, const sandbox::ExitStatus& status) {
    bool oom =
        settings_.memory && !env->cgroup.empty() && settings_.memory->oom_killed(env->cgroup);
    std::function<void(const EnvExit&)> on_exit;
    std::function<void()> gone, never_ready;
    {
        std::lock_guard lk(env->mu);
        if (!env->process) {  // exited before start_environment took the process: it handles this
            env->early_exit = status;
            return;
        }
    }
    {
        // Dead and the hooks taken at once: whoever sets a hook later, under
        // mu, sees the state and acts itself. A ready hook a cold invocation
        // left (its init never finished) goes too: it holds the environment
        // through the invocation's timer, which would never be freed.
        std::lock_guard lk(env->mu);
        env->apply(EnvEvent::Exit);
        env->exit = EnvExit{status, oom};
        on_exit = std::move(env->on_exit);
        gone = std::move(env->on_gone);
        never_ready = std::move(env->ready_hook);
    }
    if (on_exit) on_exit(EnvExit{status, oom});
    if (gone) gone();
    // what it printed after its last invocation (an extension handling
    // SHUTDOWN, say) still belongs in its log stream; nothing logs after this
    env->append_log(env->take_init_log() + env->take_output());
    env->close_log();
    env->api->stop();
    if (settings_.memory && !env->cgroup.empty())
        remove_cgroup(ioc_, *settings_.memory, env->cgroup, 50);
    // Last: shutdown() may be waiting for this, and once it sees every exit
    // handled the Invoker may go; nothing of it is touched after the unlock.
    std::lock_guard lk(exits_mu_);
    {
        std::lock_guard elk(env->mu);
        env->exit_handled = true;
    }
    exits_cv_.notify_all();
}

Result<int> Invoker::adopt_started(const EnvPtr& env,
                                   Result<std::unique_ptr<sandbox::Process>> started) {
    if (!started) {
        if (!env->cgroup.empty()) settings_.memory->remove(env->cgroup);
        return std::unexpected(started.error());
    }
    int pid = (*started)->pid();
    std::optional<sandbox::ExitStatus> exited;
    if (env->adopt(std::move(*started), exited)) on_process_exit(env, *exited);
    return pid;
}

}  // namespace lamina::exec
