/* A tiny external extension for the image-function tests, built static like
 * bootstrap.c (the image has no shell and no libc). It registers with the
 * Extensions API for INVOKE and SHUTDOWN under its file name, prints what it
 * was told and what it sees, then one line per event:
 *
 *   EXTENSION <name> registered <register answer's body>
 *   EXTENSION <name> env LAMBDA_TASK_ROOT=<value or -> AWS_LAMBDA_FUNCTION_NAME=<value>
 *   EXTENSION <name> INVOKE <requestId>
 *   EXTENSION <name> SHUTDOWN <shutdownReason>
 *
 * and exits after SHUTDOWN. With EXT_CRASH set it prints "crashing" and exits
 * 3 before registering. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char api_host[64];
static int api_port;
static char buf[1 << 16];

/* Sends a request, reads the whole answer (Connection: close) into buf. */
static void http(const char *method, const char *path, const char *headers, const char *body) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(api_port);
    inet_pton(AF_INET, api_host, &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) exit(4);
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%sConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, api_host, api_port, headers, body ? strlen(body) : 0);
    write(s, head, n);
    if (body) write(s, body, strlen(body));
    int got = 0, k;
    while (got < (int)sizeof buf - 1 && (k = read(s, buf + got, sizeof buf - 1 - got)) > 0)
        got += k;
    buf[got] = 0;
    close(s);
}

/* A header's value (case-insensitive name) of the answer in buf. */
static void header(const char *name, char *out, int cap) {
    out[0] = 0;
    size_t len = strlen(name);
    for (char *line = strstr(buf, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (strncasecmp(h, name, len) != 0 || h[len] != ':') continue;
        char *v = h + len + 1;
        while (*v == ' ') ++v;
        int i = 0;
        while (v[i] && v[i] != '\r' && i < cap - 1) out[i] = v[i], ++i;
        out[i] = 0;
        return;
    }
}

/* A string field of the JSON body in buf: "key": "value". */
static void field(const char *key, char *out, int cap) {
    out[0] = 0;
    char *body = strstr(buf, "\r\n\r\n");
    if (!body) return;
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    char *p = strstr(body, pattern);
    if (!p) return;
    p += strlen(pattern);
    while (*p == ' ' || *p == ':') ++p;
    if (*p != '"') return;
    ++p;
    int i = 0;
    while (p[i] && p[i] != '"' && i < cap - 1) out[i] = p[i], ++i;
    out[i] = 0;
}

int main(int argc, char **argv) {
    (void)argc;
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (getenv("EXT_CRASH")) {
        printf("crashing\n");
        return 3;
    }
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api) return 2;
    const char *colon = strchr(api, ':');
    snprintf(api_host, sizeof api_host, "%.*s", (int)(colon - api), api);
    api_port = atoi(colon + 1);
    setvbuf(stdout, NULL, _IOLBF, 0);

    char headers[256], id[128];
    snprintf(headers, sizeof headers,
             "Lambda-Extension-Name: %s\r\nLambda-Extension-Accept-Feature: accountId\r\n", name);
    http("POST", "/2020-01-01/extension/register", headers, "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}");
    header("Lambda-Extension-Identifier", id, sizeof id);
    if (!id[0]) return 5;
    char *body = strstr(buf, "\r\n\r\n");
    printf("EXTENSION %s registered %s\n", name, body ? body + 4 : "");
    const char *root = getenv("LAMBDA_TASK_ROOT");
    const char *fn = getenv("AWS_LAMBDA_FUNCTION_NAME");
    printf("EXTENSION %s env LAMBDA_TASK_ROOT=%s AWS_LAMBDA_FUNCTION_NAME=%s\n", name,
           root ? root : "-", fn ? fn : "-");

    snprintf(headers, sizeof headers, "Lambda-Extension-Identifier: %s\r\n", id);
    for (;;) {
        http("GET", "/2020-01-01/extension/event/next", headers, NULL);
        char type[32], value[128];
        field("eventType", type, sizeof type);
        if (strcmp(type, "SHUTDOWN") == 0) {
            field("shutdownReason", value, sizeof value);
            printf("EXTENSION %s SHUTDOWN %s\n", name, value);
            return 0;
        }
        if (strcmp(type, "INVOKE") != 0) return 6;
        field("requestId", value, sizeof value);
        printf("EXTENSION %s INVOKE %s\n", name, value);
    }
}
