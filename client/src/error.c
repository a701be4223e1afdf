/*
 * Names and descriptions of the errors the library returns. Every smtpstatus_ function returns
 * 0 or a negative code, and that code is either one of ours (SMTPSTATUS_ERRNO_MAP in
 * smtpstatus.h, the single list both functions here are generated from) or a negated system
 * errno passed up from open(), mmap(), connect() and the like. Callers print whatever they get
 * through smtpstatus_strerror(), so it answers for both kinds, and for anything else, with a
 * static string: no allocation, no locale, no shared buffer, and so safe from any thread.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrordesc_np() and strerrorname_np() on glibc */
#endif

#include "smtpstatus.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* SMTPSTATUS_NO_STRERRORDESC_NP forces the fallback table, so that it can be tested on glibc. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32)) &&          \
    !defined(SMTPSTATUS_NO_STRERRORDESC_NP)
#define HAVE_STRERRORDESC_NP 1
#endif

#ifndef HAVE_STRERRORDESC_NP
/*
 * The system errors this library and its callers actually meet, for C libraries without
 * strerrordesc_np(): strerror() itself may write a shared buffer, and strerror_r() comes in two
 * incompatible flavours and needs a buffer that we would have to own. The texts are glibc's,
 * so that a message does not depend on which branch built it. EAGAIN stands for EWOULDBLOCK
 * and EOPNOTSUPP is left out, because either pair may share one value.
 */
#define SYS_ERRNO_MAP(X)                                                                           \
    X(EPERM, "Operation not permitted")                                                            \
    X(ENOENT, "No such file or directory")                                                         \
    X(ESRCH, "No such process")                                                                    \
    X(EINTR, "Interrupted system call")                                                            \
    X(EIO, "Input/output error")                                                                   \
    X(ENXIO, "No such device or address")                                                          \
    X(E2BIG, "Argument list too long")                                                             \
    X(EBADF, "Bad file descriptor")                                                                \
    X(ECHILD, "No child processes")                                                                \
    X(EAGAIN, "Resource temporarily unavailable")                                                  \
    X(ENOMEM, "Cannot allocate memory")                                                            \
    X(EACCES, "Permission denied")                                                                 \
    X(EFAULT, "Bad address")                                                                       \
    X(EBUSY, "Device or resource busy")                                                            \
    X(EEXIST, "File exists")                                                                       \
    X(EXDEV, "Invalid cross-device link")                                                          \
    X(ENODEV, "No such device")                                                                    \
    X(ENOTDIR, "Not a directory")                                                                  \
    X(EISDIR, "Is a directory")                                                                    \
    X(EINVAL, "Invalid argument")                                                                  \
    X(ENFILE, "Too many open files in system")                                                     \
    X(EMFILE, "Too many open files")                                                               \
    X(EFBIG, "File too large")                                                                     \
    X(ENOSPC, "No space left on device")                                                           \
    X(ESPIPE, "Illegal seek")                                                                      \
    X(EROFS, "Read-only file system")                                                              \
    X(EPIPE, "Broken pipe")                                                                        \
    X(ERANGE, "Numerical result out of range")                                                     \
    X(ENAMETOOLONG, "File name too long")                                                          \
    X(ENOSYS, "Function not implemented")                                                          \
    X(ELOOP, "Too many levels of symbolic links")                                                  \
    X(EOVERFLOW, "Value too large for defined data type")                                          \
    X(EPROTO, "Protocol error")                                                                    \
    X(EMSGSIZE, "Message too long")                                                                \
    X(ENOTSOCK, "Socket operation on non-socket")                                                  \
    X(EADDRINUSE, "Address already in use")                                                        \
    X(EADDRNOTAVAIL, "Cannot assign requested address")                                            \
    X(ENETUNREACH, "Network is unreachable")                                                       \
    X(ECONNABORTED, "Software caused connection abort")                                            \
    X(ECONNRESET, "Connection reset by peer")                                                      \
    X(ENOTCONN, "Transport endpoint is not connected")                                             \
    X(ETIMEDOUT, "Connection timed out")                                                           \
    X(ECONNREFUSED, "Connection refused")
#endif

/* Returns the description of system error `e` (positive), or NULL when we have none. */
static const char *
sys_desc(int e)
{
#ifdef HAVE_STRERRORDESC_NP
    return strerrordesc_np(e);
#else
    switch (e) {
#define SYS_ERRNO_DESC(name, text)                                                                 \
    case name:                                                                                     \
        return text;
        SYS_ERRNO_MAP(SYS_ERRNO_DESC)
#undef SYS_ERRNO_DESC
    default:
        return NULL;
    }
#endif
}

/* Returns the symbolic name ("ENOENT") of system error `e` (positive), or NULL. */
static const char *
sys_name(int e)
{
#ifdef HAVE_STRERRORDESC_NP
    return strerrorname_np(e);
#else
    switch (e) {
#define SYS_ERRNO_NAME(name, text)                                                                 \
    case name:                                                                                     \
        return #name;
        SYS_ERRNO_MAP(SYS_ERRNO_NAME)
#undef SYS_ERRNO_NAME
    default:
        return NULL;
    }
#endif
}

/*
 * Returns a static English description of `err`: ours from the map, "success" for 0, the C
 * library's text for a negated errno, and "unknown error" for anything else (positive values
 * included, since no function of ours returns one as an error). Never allocates; thread-safe.
 */
const char *
smtpstatus_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define SMTPSTATUS_ERR_TEXT(name, value, text)                                                     \
    case SMTPSTATUS_##name:                                                                        \
        return text;
        SMTPSTATUS_ERRNO_MAP(SMTPSTATUS_ERR_TEXT)
#undef SMTPSTATUS_ERR_TEXT
    default:
        break;
    }
    /* INT_MIN has no positive counterpart to hand the C library. */
    if (err < 0 && err != INT_MIN) {
        const char *text = sys_desc(-err);
        if (text != NULL)
            return text;
    }
    return "unknown error";
}

/*
 * Returns the symbolic name of `err`: "SMTPSTATUS_ECLASS" for ours, "SMTPSTATUS_OK" for 0 (the
 * name a log line or a JSON field shows for success; there is no such enum member), "ENOENT"
 * and the like for a negated errno, and "UNKNOWN" otherwise. Static storage; thread-safe.
 */
const char *
smtpstatus_err_name(int err)
{
    switch (err) {
    case 0:
        return "SMTPSTATUS_OK";
#define SMTPSTATUS_ERR_NAME(name, value, text)                                                     \
    case SMTPSTATUS_##name:                                                                        \
        return "SMTPSTATUS_" #name;
        SMTPSTATUS_ERRNO_MAP(SMTPSTATUS_ERR_NAME)
#undef SMTPSTATUS_ERR_NAME
    default:
        break;
    }
    if (err < 0 && err != INT_MIN) {
        const char *name = sys_name(-err);
        if (name != NULL)
            return name;
    }
    return "UNKNOWN";
}
