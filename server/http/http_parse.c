/*
 * http_parse.c — HTTP/1.x request heads on flat bytes (see http_parse.h).
 *
 *   http_parse_head: find the blank line (within HTTP_MAX_HEAD) ->
 *     request line (method SP target SP HTTP/1.x) -> each header line ->
 *     the fields featd uses; anything malformed is a 4xx/5xx with a reason.
 */
#include "http/http_parse.h"

#include <string.h>

int http_sniff(const uint8_t *p, size_t n)
{
    if (n == 0) {
        return -1;
    }
    return p[0] >= 'A' && p[0] <= 'Z';
}

/* RFC 9110 tchar. */
static bool http_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) {
        return true;
    }
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Case-insensitive equality of p[0..n) with the lowercase literal lit. */
static bool http_ieq(const char *p, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        }
        if (ch != lit[i]) {
            return false;
        }
    }
    return true;
}

/* End of the line starting at p (the '\n'), or NULL before end. */
static const char *http_eol(const char *p, const char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

/* The line [p, nl) without its trailing CR. */
static const char *http_line_end(const char *p, const char *nl)
{
    return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

#define FAIL(code, msg) do { *status = (code); *why = (msg); return HTTP_PARSE_FAIL; } while (0)

/* Request line [p, e): method SP request-target SP HTTP-version. */
static enum http_parse_status http_request_line(const char *p, const char *e, struct http_head *h, int *status,
                                                const char **why)
{
    const char *q = p;
    while (q < e && http_tchar((unsigned char)*q)) {
        q++;
    }
    if (q == p || q == e || *q != ' ') {
        FAIL(400, "malformed request line: expected \"METHOD /path HTTP/1.1\"");
    }
    h->method_s = p;
    h->method_len = (size_t)(q - p);
    h->method = h->method_len == 3 && memcmp(p, "GET", 3) == 0    ? HTTP_GET
                : h->method_len == 4 && memcmp(p, "HEAD", 4) == 0 ? HTTP_HEAD
                : h->method_len == 4 && memcmp(p, "POST", 4) == 0 ? HTTP_POST
                                                                  : HTTP_OTHER;
    const char *t = ++q;
    while (q < e && *q != ' ') {
        if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
            FAIL(400, "malformed request line: control character in the request target");
        }
        q++;
    }
    if (q == t || q == e) {
        FAIL(400, "malformed request line: expected \"METHOD /path HTTP/1.1\"");
    }
    const char *te = q;
    /* absolute-form (http://host/path): the path is what follows the authority */
    if (*t != '/' && *t != '*') {
        const char *s = memchr(t, ':', (size_t)(te - t));
        if (s == NULL || te - s < 3 || s[1] != '/' || s[2] != '/') {
            FAIL(400, "malformed request line: the target must be a path (\"/get-online-features\")");
        }
        const char *slash = memchr(s + 3, '/', (size_t)(te - (s + 3)));
        t = slash ? slash : te;
    }
    const char *qm = memchr(t, '?', (size_t)(te - t));
    h->path = t;
    h->path_len = (size_t)((qm ? qm : te) - t);
    if (h->path_len == 0) {
        h->path = "/";
        h->path_len = 1;
    }
    q++;
    if (e - q != 8 || memcmp(q, "HTTP/", 5) != 0 || q[6] != '.' || q[5] < '0' || q[5] > '9' || q[7] < '0' ||
        q[7] > '9') {
        FAIL(400, "malformed request line: expected the version \"HTTP/1.1\" at its end");
    }
    if (q[5] != '1') {
        FAIL(505, "HTTP version not supported: only HTTP/1.0 and HTTP/1.1 are served");
    }
    h->minor = q[7] == '0' ? 0 : 1;
    h->keep_alive = h->minor >= 1;
    return HTTP_PARSE_OK;
}

/* Connection: a comma-separated token list. */
static void http_connection(struct http_head *h, const char *v, const char *e)
{
    while (v < e) {
        const char *c = memchr(v, ',', (size_t)(e - v));
        const char *te = c ? c : e;
        const char *a = v, *b = te;
        while (a < b && (*a == ' ' || *a == '\t')) {
            a++;
        }
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) {
            b--;
        }
        if (http_ieq(a, (size_t)(b - a), "close")) {
            h->keep_alive = false;
        } else if (http_ieq(a, (size_t)(b - a), "keep-alive") && h->minor == 0) {
            h->keep_alive = true;
        }
        v = c ? c + 1 : e;
    }
}

/* One header line [p, e). */
static enum http_parse_status http_header(const char *p, const char *e, struct http_head *h, bool *have_cl,
                                          int *status, const char **why)
{
    if (*p == ' ' || *p == '\t') {
        FAIL(400, "malformed header: folded header lines are not accepted");
    }
    const char *q = p;
    while (q < e && http_tchar((unsigned char)*q)) {
        q++;
    }
    if (q == p || q == e || *q != ':') {
        FAIL(400, "malformed header: expected \"Name: value\"");
    }
    const char *name = p;
    size_t nlen = (size_t)(q - p);
    const char *v = q + 1, *ve = e;
    while (v < ve && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
        ve--;
    }
    for (const char *s = v; s < ve; s++) {
        if ((unsigned char)*s < 0x20 && *s != '\t') {
            FAIL(400, "malformed header: control character in a value");
        }
    }
    if (http_ieq(name, nlen, "content-length")) {
        uint64_t n = 0;
        if (v == ve || ve - v > 18) {
            FAIL(400, "malformed Content-Length: expected a decimal number of bytes");
        }
        for (const char *s = v; s < ve; s++) {
            if (*s < '0' || *s > '9') {
                FAIL(400, "malformed Content-Length: expected a decimal number of bytes");
            }
            n = n * 10 + (uint64_t)(*s - '0');
        }
        if (*have_cl && n != h->content_length) {
            FAIL(400, "conflicting Content-Length headers");
        }
        *have_cl = true;
        h->content_length = n;
    } else if (http_ieq(name, nlen, "transfer-encoding")) {
        FAIL(411, "Transfer-Encoding (chunked) request bodies are not accepted: send Content-Length");
    } else if (http_ieq(name, nlen, "connection")) {
        http_connection(h, v, ve);
    } else if (http_ieq(name, nlen, "authorization")) {
        if (ve - v > HTTP_MAX_AUTH) {
            FAIL(431, "Authorization header too large");
        }
        h->auth = v;
        h->auth_len = (size_t)(ve - v);
    } else if (http_ieq(name, nlen, "expect")) {
        if (!http_ieq(v, (size_t)(ve - v), "100-continue")) {
            FAIL(417, "Expect: only 100-continue is supported");
        }
        h->expect_continue = true;
    }
    return HTTP_PARSE_OK;
}

enum http_parse_status http_parse_head(const char *p, size_t n, struct http_head *h, int *status,
                                       const char **why)
{
    memset(h, 0, sizeof(*h));
    const char *start = p, *end = p + (n < HTTP_MAX_HEAD ? n : HTTP_MAX_HEAD);
    /* empty lines before a request line are ignored (RFC 9112 2.2) */
    while (p < end && (*p == '\r' || *p == '\n')) {
        p++;
    }
    const char *nl = http_eol(p, end);
    if (nl == NULL) {
        if (n >= HTTP_MAX_HEAD) {
            FAIL(431, "request line and headers exceed 16384 bytes");
        }
        return HTTP_PARSE_MORE;
    }
    /* the whole head first: nothing is judged on a partial one but its line */
    const char *line = nl + 1, *hend = NULL;
    size_t nheaders = 0;
    for (;;) {
        const char *lnl = http_eol(line, end);
        if (lnl == NULL) {
            if (n >= HTTP_MAX_HEAD) {
                FAIL(431, "request line and headers exceed 16384 bytes");
            }
            enum http_parse_status st = http_request_line(p, http_line_end(p, nl), h, status, why);
            return st == HTTP_PARSE_OK ? HTTP_PARSE_MORE : st;
        }
        if (http_line_end(line, lnl) == line) {
            hend = lnl + 1;
            break;
        }
        if (++nheaders > HTTP_MAX_HEADERS) {
            FAIL(431, "more than 64 header lines");
        }
        line = lnl + 1;
    }
    enum http_parse_status st = http_request_line(p, http_line_end(p, nl), h, status, why);
    if (st != HTTP_PARSE_OK) {
        return st;
    }
    bool have_cl = false;
    for (line = nl + 1; line < hend;) {
        const char *lnl = http_eol(line, hend);
        const char *le = http_line_end(line, lnl);
        if (le == line) {
            break;
        }
        st = http_header(line, le, h, &have_cl, status, why);
        if (st != HTTP_PARSE_OK) {
            return st;
        }
        line = lnl + 1;
    }
    h->head_len = (size_t)(hend - start);
    return HTTP_PARSE_OK;
}
#undef FAIL
