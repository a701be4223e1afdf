/* A program outside the tree that uses the installed library: looks up a code in the
 * embedded registry and prints its title. */
#include <smtpstatus.h>
#include <stdio.h>

int
main(void)
{
    smtpstatus_code code;
    smtpstatus_entry e;
    if (smtpstatus_code_parse("5.1.1", 5, 0, &code, NULL) != 0 ||
        smtpstatus_image_lookup(smtpstatus_image_embedded(), code, &e) != 0)
        return 1;
    printf("%s\n", e.title);
    return 0;
}
