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
    {211, "System status, or system help reply", "RFC 5321 4.2.3", "System status"},
    {214, "Help message", "RFC 5321 4.2.3", "Help message"},
    {220, "<domain> Service ready", "RFC 5321 4.2.3", "Service ready"},
    {221, "<domain> Service closing transmission channel", "RFC 5321 4.2.3",
     "Service closing transmission channel"},
    {235, "Authentication succeeded", "RFC 4954 6", "Authentication succeeded"},
    {250, "Requested mail action okay, completed", "RFC 5321 4.2.3",
     "Requested mail action okay, completed"},
    {251, "User not local; will forward to <forward-path>", "RFC 5321 4.2.3",
     "User not local; will forward"},
    {252, "Cannot VRFY user, but will accept message and attempt delivery", "RFC 5321 4.2.3",
     "Cannot VRFY user, but will accept message and attempt delivery"},
    {253, "OK, <n> pending messages for node <x> started", "RFC 1985 5",
     "Pending messages started"},
    {334, "Server challenge (base64)", "RFC 4954 4", ""},
    {354, "Start mail input; end with <CRLF>.<CRLF>", "RFC 5321 4.2.3",
     "Start mail input; end with <CRLF>.<CRLF>"},
    {421, "<domain> Service not available, closing transmission channel", "RFC 5321 4.2.3",
     "Service not available, closing transmission channel"},
    {432, "A password transition is needed", "RFC 4954 6", "A password transition is needed"},
    {450, "Requested mail action not taken: mailbox unavailable", "RFC 5321 4.2.3",
     "Requested mail action not taken: mailbox unavailable"},
    {451, "Requested action aborted: local error in processing", "RFC 5321 4.2.3",
     "Requested action aborted: local error in processing"},
    {452, "Requested action not taken: insufficient system storage", "RFC 5321 4.2.3",
     "Requested action not taken: insufficient system storage"},
    {454, "Temporary authentication failure; or TLS not available due to temporary reason",
     "RFC 4954 6; RFC 3207 4", "Temporary authentication failure"},
    {455, "Server unable to accommodate parameters", "RFC 5321 4.2.3",
     "Server unable to accommodate parameters"},
    {458, "Unable to queue messages for node <x>", "RFC 1985 5", "Unable to queue messages"},
    {459, "Node <x> not allowed: <reason>", "RFC 1985 5", "Node not allowed"},
    {500, "Syntax error, command unrecognized (or AUTH line too long)", "RFC 5321 4.2.3",
     "Syntax error, command unrecognized"},
    {501, "Syntax error in parameters or arguments", "RFC 5321 4.2.3",
     "Syntax error in parameters or arguments"},
    {502, "Command not implemented", "RFC 5321 4.2.3", "Command not implemented"},
    {503, "Bad sequence of commands", "RFC 5321 4.2.3", "Bad sequence of commands"},
    {504, "Command parameter not implemented", "RFC 5321 4.2.3",
     "Command parameter not implemented"},
    {521, "Host does not accept mail", "RFC 7504 3", "Host does not accept mail"},
    {530, "Authentication required; or must issue a STARTTLS command first",
     "RFC 4954 6; RFC 3207 4", "Authentication required"},
    {534, "Authentication mechanism is too weak", "RFC 4954 6",
     "Authentication mechanism is too weak"},
    {535, "Authentication credentials invalid", "RFC 4954 6", "Authentication credentials invalid"},
    {538, "Encryption required for requested authentication mechanism", "RFC 4954 6",
     "Encryption required for requested authentication mechanism"},
    {550, "Requested action not taken: mailbox unavailable", "RFC 5321 4.2.3",
     "Requested action not taken: mailbox unavailable"},
    {551, "User not local; please try <forward-path>", "RFC 5321 4.2.3", "User not local"},
    {552, "Requested mail action aborted: exceeded storage allocation", "RFC 5321 4.2.3",
     "Requested mail action aborted: exceeded storage allocation"},
    {553, "Requested action not taken: mailbox name not allowed", "RFC 5321 4.2.3",
     "Requested action not taken: mailbox name not allowed"},
    {554, "Transaction failed (or, on connection opening, no SMTP service here)", "RFC 5321 4.2.3",
     "Transaction failed"},
    {555, "MAIL FROM/RCPT TO parameters not recognized or not implemented", "RFC 5321 4.2.3",
     "MAIL FROM/RCPT TO parameters not recognized or not implemented"},
    {556, "Domain does not accept mail", "RFC 7504 3", "Domain does not accept mail"},
};

const size_t basic_codes_count = sizeof basic_codes / sizeof basic_codes[0];
