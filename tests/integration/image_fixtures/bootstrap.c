/* A tiny Lambda runtime for the image-function tests, built static (no libc
 * in the image): it asks lamina's Runtime API for each event and answers with
 * what the function sees: argv, working directory, a few variables, its uid,
 * and which files of the image's layers exist. An event of {"crash":1} makes
 * it exit. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char api_host[64];
static int api_port;

static int connect_api(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(api_port);
    inet_pton(AF_INET, api_host, &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) exit(3);
    return s;
}

/* Sends a request, reads the whole answer (Connection: close) into buf. */
static int http(const char *method, const char *path, const char *body, char *buf, int cap) {
    int s = connect_api();
    char head[512];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                     method, path, api_host, api_port, body ? strlen(body) : 0);
    write(s, head, n);
    if (body) write(s, body, strlen(body));
    int got = 0, k;
    while (got < cap - 1 && (k = read(s, buf + got, cap - 1 - got)) > 0) got += k;
    buf[got] = 0;
    close(s);
    return got;
}

static void add(char *out, const char *key, const char *value) {
    char item[1024];
    snprintf(item, sizeof item, "%s\"%s\":\"%s\"", out[1] ? "," : "", key, value ? value : "");
    strcat(out, item);
}

int main(int argc, char **argv) {
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api) return 2;
    const char *colon = strchr(api, ':');
    snprintf(api_host, sizeof api_host, "%.*s", (int)(colon - api), api);
    api_port = atoi(colon + 1);
    static char buf[1 << 16];
    for (;;) {
        http("GET", "/2018-06-01/runtime/invocation/next", NULL, buf, sizeof buf);
        char id[128] = "";
        char *h = strstr(buf, "Lambda-Runtime-Aws-Request-Id: ");
        if (!h) h = strstr(buf, "lambda-runtime-aws-request-id: ");
        if (h) sscanf(h + 31, "%127[^\r\n]", id);
        char *event = strstr(buf, "\r\n\r\n");
        if (event && strstr(event, "\"crash\"")) exit(7);
        static char out[8192];
        out[0] = '{';
        out[1] = 0;
        char args[1024] = "";
        for (int i = 0; i < argc; ++i) {
            if (i) strcat(args, " ");
            strncat(args, argv[i], 200);
        }
        add(out, "argv", args);
        char cwd[512];
        add(out, "cwd", getcwd(cwd, sizeof cwd) ? cwd : "?");
        add(out, "MY_VAR", getenv("MY_VAR"));
        add(out, "IMAGE_ONLY", getenv("IMAGE_ONLY"));
        add(out, "FUNCTION_NAME", getenv("AWS_LAMBDA_FUNCTION_NAME"));
        add(out, "PATH", getenv("PATH"));
        char uid[32];
        snprintf(uid, sizeof uid, "%d", (int)getuid());
        add(out, "uid", uid);
        const char *files[] = {"/data/kept.txt", "/data/gone.txt", "/opq/old.txt", "/opq/new.txt",
                               "/etc/version"};
        for (int i = 0; i < 5; ++i) add(out, files[i], access(files[i], F_OK) == 0 ? "yes" : "no");
        FILE *v = fopen("/etc/version", "r");
        char version[64] = "";
        if (v) {
            fgets(version, sizeof version, v);
            fclose(v);
            version[strcspn(version, "\n")] = 0;
        }
        add(out, "version", version);
        FILE *t = fopen("/tmp/probe", "w");
        add(out, "tmp_writable", t ? "yes" : "no");
        if (t) fclose(t);
        FILE *r = fopen("/data/new", "w");
        add(out, "root_writable", r ? "yes" : "no");
        if (r) fclose(r);
        strcat(out, "}");
        char path[256];
        snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/response", id);
        http("POST", path, out, buf, sizeof buf);
    }
}
