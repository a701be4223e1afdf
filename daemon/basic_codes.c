/*
 * The standard basic reply codes with their RFC text (see basic_codes.h). RFC 5321 4.2.2 and
 * 4.2.3 are the base; RFC 1985 (ETRN), RFC 3207 (STARTTLS), RFC 4954 (AUTH) and RFC 7504
 * (521, 556) add codes or meanings. RFC 3030 (CHUNKING) defines no new reply code: its BDAT
 * replies are the 250, 4yz and 5yz codes already here. Codes that IANA's registry mentions but
 * that no RFC defines (422, 430, 453, 523, 524, 525, 533) are deliberately absent: the image
 * still has a record for them, with their associations and no standard text.
 */
#include "basic_codes.h"

const struct basic_code_def basic_codes[] = {
    {211, "System status, or system help reply", "RFC 5321 4.2.3"},
    {214, "Help message", "RFC 5321 4.2.3"},
    {220, "<domain> Service ready", "RFC 5321 4.2.3"},
    {221, "<domain> Service closing transmission channel", "RFC 5321 4.2.3"},
    {235, "Authentication succeeded", "RFC 4954 6"},
    {250, "Requested mail action okay, completed", "RFC 5321 4.2.3"},
    {251, "User not local; will forward to <forward-path>", "RFC 5321 4.2.3"},
    {252, "Cannot VRFY user, but will accept message and attempt delivery", "RFC 5321 4.2.3"},
    {253, "OK, <n> pending messages for node <x> started", "RFC 1985 5"},
    {334, "Server challenge (base64)", "RFC 4954 4"},
    {354, "Start mail input; end with <CRLF>.<CRLF>", "RFC 5321 4.2.3"},
    {421, "<domain> Service not available, closing transmission channel", "RFC 5321 4.2.3"},
    {432, "A password transition is needed", "RFC 4954 6"},
    {450, "Requested mail action not taken: mailbox unavailable", "RFC 5321 4.2.3"},
    {451, "Requested action aborted: local error in processing", "RFC 5321 4.2.3"},
    {452, "Requested action not taken: insufficient system storage", "RFC 5321 4.2.3"},
    {454, "Temporary authentication failure; or TLS not available due to temporary reason",
     "RFC 4954 6; RFC 3207 4"},
    {455, "Server unable to accommodate parameters", "RFC 5321 4.2.3"},
    {458, "Unable to queue messages for node <x>", "RFC 1985 5"},
    {459, "Node <x> not allowed: <reason>", "RFC 1985 5"},
    {500, "Syntax error, command unrecognized (or AUTH line too long)", "RFC 5321 4.2.3"},
    {501, "Syntax error in parameters or arguments", "RFC 5321 4.2.3"},
    {502, "Command not implemented", "RFC 5321 4.2.3"},
    {503, "Bad sequence of commands", "RFC 5321 4.2.3"},
    {504, "Command parameter not implemented", "RFC 5321 4.2.3"},
    {521, "Host does not accept mail", "RFC 7504 3"},
    {530, "Authentication required; or must issue a STARTTLS command first",
     "RFC 4954 6; RFC 3207 4"},
    {534, "Authentication mechanism is too weak", "RFC 4954 6"},
    {535, "Authentication credentials invalid", "RFC 4954 6"},
    {538, "Encryption required for requested authentication mechanism", "RFC 4954 6"},
    {550, "Requested action not taken: mailbox unavailable", "RFC 5321 4.2.3"},
    {551, "User not local; please try <forward-path>", "RFC 5321 4.2.3"},
    {552, "Requested mail action aborted: exceeded storage allocation", "RFC 5321 4.2.3"},
    {553, "Requested action not taken: mailbox name not allowed", "RFC 5321 4.2.3"},
    {554, "Transaction failed (or, on connection opening, no SMTP service here)",
     "RFC 5321 4.2.3"},
    {555, "MAIL FROM/RCPT TO parameters not recognized or not implemented", "RFC 5321 4.2.3"},
    {556, "Domain does not accept mail", "RFC 7504 3"},
};

const size_t basic_codes_count = sizeof basic_codes / sizeof basic_codes[0];
