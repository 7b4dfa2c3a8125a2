#include "lamina/sandbox/launch_spec.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace lamina::sandbox;

namespace {

LaunchSpec spec() {
    LaunchSpec s;
    s.code_dir = "/data/extracted/c0de";
    s.opt_dir = "/data/opt/0b7";
    s.runtime_dir = "/usr/share/lamina/runtimes";
    s.tmp_dir = "/data/tmp/env-1";
    s.tmp_size_mb = 1024;
    s.command = {"/usr/bin/python3", "/var/runtime/python/bootstrap.py"};
    s.env = {{"AWS_REGION", "us-east-1"}, {"PATH", "/usr/bin:/opt/bin"}};
    return s;
}

// Index of the first occurrence of `seq` as consecutive elements, or npos.
std::size_t find_seq(const std::vector<std::string>& argv, std::vector<std::string> seq) {
    auto it = std::search(argv.begin(), argv.end(), seq.begin(), seq.end());
    return it == argv.end() ? std::string::npos : static_cast<std::size_t>(it - argv.begin());
}

}  // namespace

TEST(LaunchSpec, BubblewrapBindsCodeAndLayersReadOnlyAtAwsPaths) {
    auto argv = launcher_argv(Backend::Bubblewrap, spec(), "/usr/bin/bwrap");
    ASSERT_FALSE(argv.empty());
    EXPECT_EQ(argv[0], "/usr/bin/bwrap");
    EXPECT_NE(find_seq(argv, {"--ro-bind", "/data/extracted/c0de", "/var/task"}),
              std::string::npos);
    EXPECT_NE(find_seq(argv, {"--ro-bind", "/data/opt/0b7", "/opt"}), std::string::npos);
    EXPECT_NE(find_seq(argv, {"--ro-bind", "/usr/share/lamina/runtimes", "/var/runtime"}),
              std::string::npos);
    EXPECT_NE(find_seq(argv, {"--chdir", "/var/task"}), std::string::npos);
}

TEST(LaunchSpec, BubblewrapIsolatesAndSizesTmp) {
    auto argv = launcher_argv(Backend::Bubblewrap, spec());
    for (const char* flag : {"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
                             "--new-session", "--clearenv"})
        EXPECT_NE(std::find(argv.begin(), argv.end(), flag), argv.end()) << flag;
    // EphemeralStorage sizes the tmpfs: --size applies to the next --tmpfs
    EXPECT_NE(find_seq(argv, {"--size", std::to_string(1024LL * 1024 * 1024), "--tmpfs", "/tmp"}),
              std::string::npos);
    EXPECT_NE(find_seq(argv, {"--cap-drop", "ALL"}), std::string::npos);
    // /etc only in parts: name resolution and TLS roots, never the password hashes
    EXPECT_NE(find_seq(argv, {"--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf"}),
              std::string::npos);
    EXPECT_NE(find_seq(argv, {"--ro-bind-try", "/etc/ssl", "/etc/ssl"}), std::string::npos);
    EXPECT_EQ(std::find(argv.begin(), argv.end(), "/etc/shadow"), argv.end());
    EXPECT_EQ(find_seq(argv, {"--ro-bind", "/etc", "/etc"}), std::string::npos);
}

TEST(LaunchSpec, BubblewrapPassesExactlyTheSpecEnvironmentThenTheCommand) {
    auto argv = launcher_argv(Backend::Bubblewrap, spec());
    std::size_t clear = find_seq(argv, {"--clearenv"});
    std::size_t region = find_seq(argv, {"--setenv", "AWS_REGION", "us-east-1"});
    std::size_t path = find_seq(argv, {"--setenv", "PATH", "/usr/bin:/opt/bin"});
    std::size_t sep = find_seq(argv, {"--"});
    ASSERT_NE(clear, std::string::npos);
    EXPECT_LT(clear, region);
    EXPECT_LT(clear, path);
    EXPECT_LT(region, sep);
    EXPECT_EQ(std::vector<std::string>(argv.begin() + static_cast<long>(sep) + 1, argv.end()),
              spec().command);
    EXPECT_EQ(std::count(argv.begin(), argv.end(), "--setenv"), 2);
}

TEST(LaunchSpec, RunAsBecomesTheUserThroughSetprivNeverAUserNamespace) {
    auto s = spec();
    auto plain = launcher_argv(Backend::Bubblewrap, s);
    EXPECT_NE(find_seq(plain, {"--cap-drop", "ALL"}), std::string::npos);
    EXPECT_EQ(find_seq(plain, {"/usr/bin/setpriv"}), std::string::npos);
    s.run_as = std::make_pair(993u, 990u);
    auto argv = launcher_argv(Backend::Bubblewrap, s);
    EXPECT_EQ(find_seq(argv, {"--unshare-user"}), std::string::npos);
    std::size_t sep = find_seq(argv, {"--"});
    ASSERT_NE(sep, std::string::npos);
    std::vector<std::string> tail(argv.begin() + static_cast<long>(sep) + 1, argv.end());
    std::vector<std::string> expected = {
        "/usr/bin/setpriv", "--reuid=993",         "--regid=990",    "--clear-groups",
        "--inh-caps=-all",  "--bounding-set=-all", "--no-new-privs", "--"};
    expected.insert(expected.end(), s.command.begin(), s.command.end());
    EXPECT_EQ(tail, expected);
}

TEST(LaunchSpec, MountPointParentsAreWalkableAndTmpIsWorldWritable) {
    auto s = spec();
    s.extra_ro_binds = {"/root/.pyenv/versions/3.11.7"};
    auto argv = launcher_argv(Backend::Bubblewrap, s);
    std::size_t var = find_seq(argv, {"--perms", "0755", "--dir", "/var"});
    ASSERT_NE(var, std::string::npos);
    EXPECT_LT(var, find_seq(argv, {"--ro-bind", s.code_dir.string(), "/var/task"}));
    EXPECT_EQ(std::count(argv.begin(), argv.end(), "/var"),
              1);  // made once for /var/task and /var/runtime
    EXPECT_NE(find_seq(argv, {"--perms", "0755", "--dir", "/root", "--perms", "0755", "--dir",
                              "/root/.pyenv"}),
              std::string::npos);
    EXPECT_NE(find_seq(argv, {"--perms", "1777"}), std::string::npos);
    EXPECT_LT(find_seq(argv, {"--perms", "1777"}), find_seq(argv, {"--tmpfs", "/tmp"}));
}

TEST(LaunchSpec, OwnEtcFilesReplaceTheHostEntry) {
    auto s = spec();
    s.etc_files = {{"/etc/passwd", "/data/environments/passwd"}};
    auto argv = launcher_argv(Backend::Bubblewrap, s);
    EXPECT_NE(find_seq(argv, {"--ro-bind", "/data/environments/passwd", "/etc/passwd"}),
              std::string::npos);
    EXPECT_EQ(find_seq(argv, {"--ro-bind-try", "/etc/passwd", "/etc/passwd"}), std::string::npos);
    EXPECT_NE(find_seq(argv, {"--ro-bind-try", "/etc/group", "/etc/group"}), std::string::npos);
}

TEST(LaunchSpec, ExtraReadOnlyBindsKeepTheirPath) {
    auto s = spec();
    s.extra_ro_binds = {"/root/.pyenv/versions/3.11.7"};
    auto argv = launcher_argv(Backend::Bubblewrap, s);
    EXPECT_NE(find_seq(argv, {"--ro-bind-try", "/root/.pyenv/versions/3.11.7",
                              "/root/.pyenv/versions/3.11.7"}),
              std::string::npos);
}

TEST(LaunchSpec, ImageRootIsTheReadOnlyRootAndNothingOfTheHostIsBound) {
    auto s = spec();
    s.image_root = "/data/images/ab12/rootfs";
    s.working_dir = "/var/task";
    s.command = {"/bin/bootstrap", "handler.main"};
    auto argv = launcher_argv(Backend::Bubblewrap, s);
    EXPECT_NE(find_seq(argv, {"--ro-bind", "/data/images/ab12/rootfs", "/"}), std::string::npos);
    EXPECT_EQ(find_seq(argv, {"--ro-bind", "/usr", "/usr"}), std::string::npos);
    EXPECT_EQ(find_seq(argv, {"--ro-bind", s.code_dir.string(), "/var/task"}), std::string::npos);
    EXPECT_EQ(find_seq(argv, {"/dev/.lamina"}), std::string::npos) << "nothing to bind there";
    EXPECT_NE(find_seq(argv, {"--chdir", "/var/task"}), std::string::npos);
    EXPECT_EQ(std::vector<std::string>(argv.end() - 3, argv.end()),
              (std::vector<std::string>{"--", "/bin/bootstrap", "handler.main"}));
}

TEST(LaunchSpec, ImageExtensionsLauncherIsBoundReadOnlyBesideSetpriv) {
    auto s = spec();
    s.image_root = "/data/images/ab12/rootfs";
    s.extensions_launcher = "/usr/share/lamina/runtimes/extensions/launch";
    s.command = {kImageExtensionsLauncher, "/opt", "/bin/bootstrap"};
    auto argv = launcher_argv(Backend::Bubblewrap, s);
    std::size_t dir = find_seq(argv, {"--perms", "0755", "--dir", "/dev/.lamina"});
    std::size_t bind = find_seq(argv, {"--ro-bind", "/usr/share/lamina/runtimes/extensions/launch",
                                       "/dev/.lamina/extensions"});
    ASSERT_NE(dir, std::string::npos);
    ASSERT_NE(bind, std::string::npos);
    EXPECT_LT(find_seq(argv, {"--dev", "/dev"}), dir) << "made inside the sandbox's own /dev";
    EXPECT_LT(dir, bind);
    EXPECT_EQ(
        std::vector<std::string>(argv.end() - 4, argv.end()),
        (std::vector<std::string>{"--", "/dev/.lamina/extensions", "/opt", "/bin/bootstrap"}));

    // as root: setpriv's files join it under /dev/.lamina, made once
    s.run_as = std::make_pair(993u, 990u);
    s.setpriv_runtime = {"/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6"};
    argv = launcher_argv(Backend::Bubblewrap, s);
    EXPECT_EQ(std::count(argv.begin(), argv.end(), "/dev/.lamina"), 1);
    EXPECT_NE(find_seq(argv, {"--ro-bind", "/usr/share/lamina/runtimes/extensions/launch",
                              "/dev/.lamina/extensions"}),
              std::string::npos);
    std::size_t sep = find_seq(argv, {"--"});
    ASSERT_NE(sep, std::string::npos);
    std::vector<std::string> tail(argv.begin() + static_cast<long>(sep) + 1, argv.end());
    ASSERT_GE(tail.size(), 4u);
    EXPECT_EQ(tail.front(), "/dev/.lamina/ld.so");
    EXPECT_EQ(std::vector<std::string>(tail.end() - 4, tail.end()),
              (std::vector<std::string>{"--", "/dev/.lamina/extensions", "/opt", "/bin/bootstrap"}))
        << "setpriv becomes the user, then execs the launcher";
}

TEST(LaunchSpec, ProcessBackendRunsTheCommandWithHostPaths) {
    auto s = spec();
    EXPECT_EQ(launcher_argv(Backend::Process, s), s.command);
    auto p = paths_for(Backend::Process, s);
    EXPECT_EQ(p.task_root, "/data/extracted/c0de");
    EXPECT_EQ(p.opt, "/data/opt/0b7");
    EXPECT_EQ(p.tmp, "/data/tmp/env-1");
    auto b = paths_for(Backend::Bubblewrap, s);
    EXPECT_EQ(b.task_root, "/var/task");
    EXPECT_EQ(b.opt, "/opt");
    EXPECT_EQ(b.runtime_dir, "/var/runtime");
    EXPECT_STREQ(to_string(Backend::Bubblewrap), "bubblewrap");
}

// ---- the argv really works on this machine --------------------------------------------

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fakes/temp_dir.hpp"

namespace {

// Runs argv with exactly `env`, returns (exit status, stdout).
std::pair<int, std::string> run(const std::vector<std::string>& argv,
                                const std::map<std::string, std::string>& env) {
    int out[2];
    if (pipe(out) != 0) return {-1, ""};
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        std::vector<std::string> env_strings;
        for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
        std::vector<char*> args, envp;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        for (auto& e : env_strings) envp.push_back(e.data());
        envp.push_back(nullptr);
        execve(args[0], args.data(), envp.data());
        _exit(127);
    }
    close(out[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text};
}

}  // namespace

TEST(LaunchSpecOnThisMachine, BubblewrapSandboxShowsCodeAndLayersReadOnly) {
    if (!std::filesystem::exists("/usr/bin/bwrap")) GTEST_SKIP() << "bubblewrap is not installed";
    lamina::fakes::TempDir dir;
    for (const char* d : {"code", "opt/bin", "runtime", "tmp"})
        std::filesystem::create_directories(dir.path() / d);
    std::ofstream(dir.path() / "code" / "handler.py") << "code";
    std::ofstream(dir.path() / "opt" / "bin" / "tool") << "layer";
    LaunchSpec s;
    s.code_dir = dir.path() / "code";
    s.opt_dir = dir.path() / "opt";
    s.runtime_dir = dir.path() / "runtime";
    s.tmp_dir = dir.path() / "tmp";
    s.tmp_size_mb = 16;
    s.env = {{"GREETING", "hello"}, {"PATH", "/usr/bin:/bin"}};
    s.command = {"/bin/sh", "-c",
                 "cat /var/task/handler.py; echo; cat /opt/bin/tool; echo; echo $GREETING; pwd; "
                 "echo $$; touch /var/task/x 2>/dev/null && echo task-writable; "
                 "touch /opt/x 2>/dev/null && echo opt-writable; touch /tmp/x && echo tmp-ok; "
                 "test -e " +
                     dir.path().string() +
                     " && echo host-visible; test -e /etc/shadow && echo shadow; "
                     "env | grep -c LAMINA_ || true"};
    auto [status, out] = run(launcher_argv(Backend::Bubblewrap, s), {{"LAMINA_SECRET", "x"}});
    if (status != 0 && out.empty())
        GTEST_SKIP() << "bubblewrap cannot create namespaces here (status " << status << ")";
    EXPECT_EQ(out, "code\nlayer\nhello\n/var/task\n2\ntmp-ok\n0\n");
}

TEST(LaunchSpec, AsPid1OnlyWhenAsked) {
    auto argv = launcher_argv(Backend::Bubblewrap, spec());
    EXPECT_EQ(std::find(argv.begin(), argv.end(), "--as-pid-1"), argv.end());
    auto s = spec();
    s.as_pid_1 = true;  // a JVM's SnapStart snapshot: criu dumps its whole pid namespace
    argv = launcher_argv(Backend::Bubblewrap, s);
    auto at = std::find(argv.begin(), argv.end(), "--as-pid-1");
    ASSERT_NE(at, argv.end());
    EXPECT_LT(at,
              std::find(argv.begin(), argv.end(), "--"));  // bubblewrap's option, not the command's
}
