/*
 * A tiny SMTP responder for the smtplib test: it listens on 127.0.0.1 (a free port, printed
 * as "PORT n" on stdout), accepts one client, and answers each command line with a reply that
 * libsmtpstatus renders. The replies come from argv as "VERB:basic:enhanced:width:text" (an
 * empty enhanced field for none; "\n" in text is a line break), the first being the greeting.
 * An unknown verb gets "502 5.5.1". It exits after QUIT, on EOF, or after 20 idle seconds.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtpstatus.h"

struct script_reply {
    char verb[16];
    uint16_t basic;
    int has_enh;
    smtpstatus_code enh;
    unsigned width;
    char text[1024];
};

static int
parse_reply(const char *arg, struct script_reply *r)
{
    char copy[1200];
    snprintf(copy, sizeof copy, "%s", arg);
    char *f[5], *save = NULL, *p = copy;
    for (int i = 0; i < 4; i++) {
        char *colon = strchr(p, ':');
        if (colon == NULL)
            return -1;
        *colon = '\0';
        f[i] = p;
        p = colon + 1;
    }
    f[4] = p;
    (void)save;
    snprintf(r->verb, sizeof r->verb, "%s", f[0]);
    r->basic = (uint16_t)atoi(f[1]);
    r->has_enh = f[2][0] != '\0';
    if (r->has_enh && smtpstatus_code_parse(f[2], strlen(f[2]), 0, &r->enh, NULL) != 0)
        return -1;
    r->width = (unsigned)atoi(f[3]);
    size_t o = 0;
    for (const char *s = f[4]; *s && o + 1 < sizeof r->text; s++) {
        if (s[0] == '\\' && s[1] == 'n') {
            r->text[o++] = '\n';
            s++;
        } else {
            r->text[o++] = *s;
        }
    }
    r->text[o] = '\0';
    return 0;
}

static int
send_reply(int fd, const struct script_reply *r)
{
    char buf[8192];
    size_t len;
    smtpstatus_render_options o = {r->width, 0, SMTPSTATUS_FORM_REPLY};
    int rc = smtpstatus_render(NULL, r->basic, r->has_enh ? &r->enh : NULL, r->text,
                               strlen(r->text), &o, buf, sizeof buf, &len, NULL);
    if (rc != 0) {
        fprintf(stderr, "render %s: %s\n", r->verb, smtpstatus_strerror(rc));
        return -1;
    }
    return write(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

int
main(int argc, char **argv)
{
    static struct script_reply replies[32];
    int n = 0;
    for (int i = 1; i < argc && n < 32; i++)
        if (parse_reply(argv[i], &replies[n++]) != 0) {
            fprintf(stderr, "bad reply spec: %s\n", argv[i]);
            return 2;
        }
    if (n == 0)
        return 2;

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
        perror("listen");
        return 1;
    }
    printf("PORT %u\n", ntohs(a.sin_port));
    fflush(stdout);

    struct pollfd p = {ls, POLLIN, 0};
    if (poll(&p, 1, 20000) != 1)
        return 1;
    int fd = accept(ls, NULL, NULL);
    if (fd < 0 || send_reply(fd, &replies[0]) != 0)
        return 1;

    char line[1024];
    size_t have = 0;
    for (;;) {
        p = (struct pollfd){fd, POLLIN, 0};
        if (poll(&p, 1, 20000) != 1)
            return 1;
        ssize_t got = read(fd, line + have, sizeof line - 1 - have);
        if (got <= 0)
            return 0;
        have += (size_t)got;
        char *eol;
        while ((eol = memchr(line, '\n', have)) != NULL) {
            size_t vl = strcspn(line, " \r\n");
            const struct script_reply *r = NULL;
            for (int i = 1; i < n && r == NULL; i++)
                if (strlen(replies[i].verb) == vl && strncasecmp(line, replies[i].verb, vl) == 0)
                    r = &replies[i];
            static const struct script_reply unknown = {"", 502, 1, {5, 5, 1}, 0, "Unknown"};
            if (send_reply(fd, r ? r : &unknown) != 0)
                return 1;
            if (vl == 4 && strncasecmp(line, "QUIT", 4) == 0)
                return 0;
            size_t used = (size_t)(eol + 1 - line);
            memmove(line, eol + 1, have - used);
            have -= used;
        }
        if (have == sizeof line - 1)
            return 1;
    }
}
