#!/usr/bin/env python3
"""Socket activation as systemd does it, for tests: binds and listens on a Unix socket (mode
0666, like smtpstatusd.socket's SocketMode=), then starts COMMAND with that socket as file
descriptor 3, LISTEN_FDS=1, LISTEN_PID=its pid, and NOTIFY_SOCKET pointing at a datagram socket
of ours, and waits for its READY=1 (sd_notify). It does that RUNS times on the same listening
socket, as systemd starts a socket-activated service again after it stopped.

usage: socket_activate.py SOCKET RUNS -- COMMAND...

Says on stdout, one line each, flushed: "bound INODE" once; then per run "ready PID" (or
"not-ready PID" after 20 s or when the daemon exits first), and after the daemon exits (the
test stops it) "exited STATUS socket=kept|gone". The daemon's stderr is ours.
"""
import os
import select
import socket
import sys
import tempfile


def say(*words):
    print(*words, flush=True)


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    path, runs, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[4:]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o666)
    listener.listen(16)
    say("bound", os.stat(path).st_ino)

    notify_dir = tempfile.mkdtemp()
    notify_path = os.path.join(notify_dir, "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    try:
        for _ in range(runs):
            pid = os.fork()
            if pid == 0:
                if listener.fileno() != 3:
                    os.dup2(listener.fileno(), 3)
                os.set_inheritable(3, True)  # dup2 onto itself would keep close-on-exec
                env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()),
                           NOTIFY_SOCKET=notify_path)
                try:
                    os.execvpe(cmd[0], cmd, env)
                finally:
                    os._exit(127)
            ready = False
            while not ready:
                r, _, _ = select.select([notify], [], [], 20)
                if not r:
                    break
                ready = b"READY=1" in notify.recv(4096).split(b"\n")
            say("ready" if ready else "not-ready", pid)
            _, status = os.waitpid(pid, 0)
            say("exited", os.waitstatus_to_exitcode(status),
                "socket=" + ("kept" if os.path.exists(path) else "gone"))
    finally:
        notify.close()
        os.unlink(notify_path)
        os.rmdir(notify_dir)


if __name__ == "__main__":
    main()
