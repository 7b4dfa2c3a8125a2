/* lamina's extension launcher for container-image functions: launch.sh's
 * work (see there) as one static binary, because an image need not hold a
 * shell, env or even a libc. lamina binds it read-only into the image's
 * sandbox (at /dev/.lamina/extensions) and starts it in place of the runtime
 * when the image's /opt/extensions holds executables:
 *
 *   launch OPT_DIR RUNTIME_COMMAND...
 *
 * As on AWS, every executable file in OPT_DIR/extensions starts first, in
 * parallel, with the function's environment minus the variables only the
 * runtime gets, stdin from /dev/null; then this process becomes the runtime
 * (execvp, so the image's PATH applies). Each extension's output goes to the
 * environment's stdout, one line at a time marked with a leading 0x1e byte
 * (lamina strips it and tells extension lines from the function's by it).
 * When an extension exits, its status (128 + signal if killed, as a shell
 * says) is reported over the Runtime API's address, so that a crash during
 * init fails the init at once (Extension.Crash).
 *
 * Each extension has a watcher process (relays its lines, waits for it,
 * reports its exit), detached from the runtime so that no zombie is left
 * under it: the sandbox's init adopts and reaps it. Built by CMake with
 * `cc -static`; no allocation beyond the directory listing. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const kRuntimeOnly[] = {
    "AWS_EXECUTION_ENV",        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "LAMBDA_RUNTIME_DIR",       "LAMBDA_TASK_ROOT",          "_HANDLER",
    "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS",   "_AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_PORT",    NULL};

enum { kLineMax = 64 * 1024 };

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return;
        p += k;
        n -= (size_t)k;
    }
}

/* Copies the extension's output to stdout, each line marked; a line longer
 * than kLineMax goes out in marked pieces. */
static void relay(int fd) {
    static char line[kLineMax + 2];
    size_t used = 1;
    line[0] = '\036';
    char buf[8192];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; ++i) {
            line[used++] = buf[i];
            if (buf[i] == '\n' || used == kLineMax + 1) {
                if (buf[i] != '\n') line[used++] = '\n';
                write_all(1, line, used);
                used = 1;
            }
        }
    }
    if (used > 1) {
        line[used++] = '\n';
        write_all(1, line, used);
    }
}

/* POST /_lamina/extension/exited?name=NAME&status=STATUS to lamina, waiting
 * at most 2 s for its answer. */
static void report_exit(const char *api, const char *name, int status) {
    char host[64];
    const char *colon = strrchr(api, ':');
    if (!colon || (size_t)(colon - api) >= sizeof host) return;
    memcpy(host, api, (size_t)(colon - api));
    host[colon - api] = 0;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return;
    char encoded[3 * 256 + 1];
    size_t e = 0;
    for (const unsigned char *c = (const unsigned char *)name; *c && e + 4 < sizeof encoded; ++c) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~')
            encoded[e++] = (char)*c;
        else
            e += (size_t)snprintf(encoded + e, 4, "%%%02X", *c);
    }
    encoded[e] = 0;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return;
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) == 0) {
        char req[1024];
        int n = snprintf(req, sizeof req,
                         "POST /_lamina/extension/exited?name=%s&status=%d HTTP/1.1\r\nHost: %s\r\n"
                         "Content-Length: 0\r\nConnection: close\r\n\r\n",
                         encoded, status, api);
        if (n > 0 && (size_t)n < sizeof req) {
            write_all(s, req, (size_t)n);
            struct pollfd p = {s, POLLIN, 0};
            char answer[256];
            if (poll(&p, 1, 2000) > 0) (void)!read(s, answer, sizeof answer);
        }
    }
    close(s);
}

/* The watcher of one extension; never returns. */
static void watch(const char *path, const char *name, const char *api) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) _exit(1);
    pid_t ext = fork();
    if (ext < 0) _exit(1);
    if (ext == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        for (const char *const *v = kRuntimeOnly; *v; ++v) unsetenv(*v);
        char *const args[] = {(char *)path, NULL};
        execv(path, args);
        _exit(errno == ENOENT ? 127 : 126);
    }
    close(out[1]);
    relay(out[0]);
    close(out[0]);
    int st = 0;
    while (waitpid(ext, &st, 0) < 0 && errno == EINTR) {
    }
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
    report_exit(api, name, status);
    _exit(0);
}

/* Starts the watcher of one extension, detached: the middle process exits
 * at once, so the watcher is the sandbox init's child, not the runtime's. */
static void start(const char *path, const char *name, const char *api) {
    pid_t middle = fork();
    if (middle < 0) return;
    if (middle == 0) {
        pid_t watcher = fork();
        if (watcher == 0) watch(path, name, api);
        _exit(watcher < 0 ? 1 : 0);
    }
    int st = 0;
    while (waitpid(middle, &st, 0) < 0 && errno == EINTR) {
    }
}

static int visible(const struct dirent *d) { return d->d_name[0] != '.'; }

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s OPT_DIR RUNTIME_COMMAND...\n", argv[0]);
        return 2;
    }
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api || !*api) api = "127.0.0.1:9001";
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/extensions", argv[1]);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, visible, alphasort);
    for (int i = 0; i < n; ++i) {
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        struct stat st;
        /* lstat, as lamina lists them on the host: a link is not an extension */
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
            start(path, names[i]->d_name, api);
        free(names[i]);
    }
    free(names);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "lamina extensions launcher: cannot run %s: %s\n", argv[2], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
