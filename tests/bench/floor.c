/* The floor of the init measurement: the smallest possible Runtime API client (one GET next,
 * one POST response echoing the event), so functions.sh can report how much of a function's
 * init_ms is the harness (spawn, exec, Python HTTP server) rather than the function. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int request(int fd, const char *req, size_t n, char *buf, size_t cap) {
    if (write(fd, req, n) != (ssize_t)n) return -1;
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r <= 0) return -1;
        got += (size_t)r;
        buf[got] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        char *cl = strcasestr(buf, "Content-Length:");
        size_t len = cl ? strtoul(cl + 15, NULL, 10) : 0;
        if (got >= (size_t)(end + 4 - buf) + len) return (int)got;
    }
}

int main(void) {
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api) return 2;
    char host[64];
    int port;
    if (sscanf(api, "%63[^:]:%d", host, &port) != 2) return 2;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return 3;
    static char buf[1 << 20], req[1 << 20];
    int n = snprintf(req, sizeof req, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n", api);
    if (request(fd, req, (size_t)n, buf, sizeof buf) < 0) return 4;
    char id[128] = "";
    char *h = strcasestr(buf, "Lambda-Runtime-Aws-Request-Id:");
    if (h) sscanf(h + 30, " %127[^\r\n]", id);
    char *body = strstr(buf, "\r\n\r\n") + 4;
    n = snprintf(req, sizeof req,
                 "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                 id, api, strlen(body), body);
    if (request(fd, req, (size_t)n, buf, sizeof buf) < 0) return 5;
    pause(); /* like a Lambda sandbox: frozen until stopped */
    return 0;
}
