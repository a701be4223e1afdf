/*
 * A client that looks codes up through the daemon's shared image, for test_shared_syscalls.sh:
 *   shared_lookups RUNDIR N refresh|pin
 * attaches once, then does N lookups, each after smtpstatus_refresh() on a held pin ("refresh")
 * or between smtpstatus_pin() and smtpstatus_unpin() ("pin"). It prints how many lookups found a
 * registered code and which path answered, and exits 1 if any call failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpstatus.h"

int
main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "refresh") != 0 && strcmp(argv[3], "pin") != 0)) {
        fprintf(stderr, "usage: shared_lookups RUNDIR N refresh|pin\n");
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    int pin_each = strcmp(argv[3], "pin") == 0;
    smtpstatus_options o = {.rundir = argv[1]};
    smtpstatus *h;
    if (smtpstatus_open(&o, &h) != 0)
        return 1;
    static const smtpstatus_code codes[] = {{5, 1, 1}, {4, 7, 0}, {5, 7, 26}, {2, 0, 0}};
    const smtpstatus_image *img = NULL;
    long registered = 0;
    for (long i = 0; i < n; i++) {
        int rc = pin_each ? smtpstatus_pin(h, &img) : smtpstatus_refresh(h, &img);
        smtpstatus_entry e;
        if (rc != 0 || smtpstatus_image_lookup(img, codes[i % 4], &e) != 0) {
            fprintf(stderr, "shared_lookups: lookup %ld failed: %s\n", i, smtpstatus_strerror(rc));
            smtpstatus_unpin(h, img);
            smtpstatus_close(h);
            return 1;
        }
        registered += e.registered;
        if (pin_each) {
            smtpstatus_unpin(h, img);
            img = NULL;
        }
    }
    smtpstatus_client_status cs;
    smtpstatus_client_status_get(h, &cs);
    printf("registered %ld of %ld; shared %d; socket calls %llu\n", registered, n, cs.shared,
           (unsigned long long)cs.socket_calls);
    smtpstatus_unpin(h, img);
    smtpstatus_close(h);
    return 0;
}
