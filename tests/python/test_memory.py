"""Every C result is freed and every pin released: 10,000 calls in each mode do not make the
process grow beyond a bound (a check of leaks, not of speed)."""
import os

import pytest


def rss_kib():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import resource
    return pages * resource.getpagesize() // 1024


# AddressSanitizer's quarantine keeps freed memory on purpose, so resident size grows whatever
# the package does; under the sanitizers, LeakSanitizer checks the library's own tests instead.
@pytest.mark.skipif(os.environ.get("SMTPSTATUS_SANITIZE") == "ON",
                    reason="resident size means nothing under AddressSanitizer's quarantine")
def test_no_leak(client, mode):
    calls = [lambda: client.lookup("5.1.1"),
             lambda: client.classify("550 5.7.1 Too many messages, try again in 5 minutes"),
             lambda: client.render(452, "4.2.2", "Mailbox full"),
             lambda: client.basic(550),
             lambda: client.lookup("TSS04")]
    n = 10000 if mode != "socket" else 2500   # the socket's round trips are slower
    for i in range(500):
        calls[i % len(calls)]()
    before = rss_kib()
    for i in range(n):
        calls[i % len(calls)]()
    grown = rss_kib() - before
    assert grown < 2048, "grew by %d KiB over %d calls" % (grown, n)
    status = client.client_status()
    if mode == "shared":
        assert status.mappings == 1
