/*
 * Downloads with libcurl (see fetch.h). The body grows in one buffer up to the caller's limit;
 * the checks after the transfer are what make a download trustworthy: curl's result (which
 * catches a connection that closed early, CURLE_PARTIAL_FILE), the HTTP status, and the
 * announced length against what arrived.
 */
#include "fetch.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpstatus.h"

struct body {
    char *data;
    size_t len, cap, max;
    int too_big, no_memory;
};

/* curl's write callback: appends to the body, or stops the transfer past the limit. */
static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb; /* curl guarantees size == 1 */
    if (n > b->max - b->len) {
        b->too_big = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (p == NULL) {
            b->no_memory = 1;
            return 0;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    return n;
}

int
fetch_init(char *why, size_t why_size)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(why, why_size, "cannot set up libcurl: %s", curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

void
fetch_cleanup(void)
{
    curl_global_cleanup();
}

int
fetch_url(const char *url, size_t max, char **data, size_t *len, char *why, size_t why_size)
{
    struct body b = {.max = max};
    char err[CURL_ERROR_SIZE] = "";
    *data = NULL;
    *len = 0;
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(why, why_size, "%s: cannot start a download (out of memory)", url);
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    /* A download begun over https is never redirected to plain http. */
    int https = strncmp(url, "https://", 8) == 0;
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the _STR forms */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS,
                     https ? CURLPROTO_HTTPS : CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, FETCH_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "smtpstatus/" SMTPSTATUS_VERSION_STRING);

    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_off_t announced = -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
    const char *scheme = NULL;
    curl_easy_getinfo(c, CURLINFO_SCHEME, &scheme);
    int is_http =
        scheme != NULL && (curl_strequal(scheme, "http") || curl_strequal(scheme, "https"));
    int ok = 0;
    if (b.no_memory)
        snprintf(why, why_size, "%s: out of memory", url);
    else if (b.too_big)
        snprintf(why, why_size, "%s: the file is larger than %zu bytes; not a registry table", url,
                 max);
    else if (rc == CURLE_PARTIAL_FILE)
        snprintf(why, why_size, "%s: the download was cut short (%s): a partial file", url,
                 err[0] ? err : curl_easy_strerror(rc));
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        snprintf(why, why_size, "%s: no complete answer within %ld seconds", url, FETCH_TIMEOUT_S);
    else if (rc != CURLE_OK)
        snprintf(why, why_size, "%s: %s", url, err[0] ? err : curl_easy_strerror(rc));
    else if (is_http && status != 200)
        snprintf(why, why_size, "%s: the server answered HTTP %ld, not 200", url, status);
    else if (announced >= 0 && (curl_off_t)b.len != announced)
        /* curl reports this itself (CURLE_PARTIAL_FILE); a second check costs nothing. */
        snprintf(why, why_size, "%s: received %zu bytes of the %lld announced: a partial file", url,
                 b.len, (long long)announced);
    else if (b.len == 0)
        snprintf(why, why_size, "%s: the file is empty", url);
    else
        ok = 1;
    curl_easy_cleanup(c);
    if (!ok) {
        free(b.data);
        return -1;
    }
    b.data[b.len] = '\0';
    *data = b.data;
    *len = b.len;
    return 0;
}
