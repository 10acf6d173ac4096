#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
nginx.py: the nginx the benchmarks compare ackd with, found or installed.

Python 3 standard library only; shared by hostile.py (make
bench-hostile: nginx's stream module answering in clear) and run.py
(make bench: its TLS rows, nginx's stream module terminating TLS). If
nginx or its stream module is missing, nginx_ready installs nginx-light
(or nginx) and libnginx-mod-stream with apt-get, starting no service (a
temporary policy-rc.d, as ./bootstrap does for haproxy); if that cannot
be done, it says why, and the caller goes on without nginx.
"""

import os
import re
import shutil
import socket
import subprocess
import sys

NGINX_PACKAGES = (("nginx-light", "libnginx-mod-stream"),
                  ("nginx", "libnginx-mod-stream"))
NGINX_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
NGINX_CONNECTIONS = 16384       # per worker; and its descriptor limit
NGINX_PREREAD_TIMEOUT = "10s"   # ackd's --read-timeout


def nginx_conf(writer, prefix, module, workers, listen, tls_lines=()):
    """nginx.conf of a benchmark (writer names the script): the stream
    module in workers processes, one server on listen (ADDR:PORT, and
    " ssl" with tls_lines, its ssl_* directives) that reads the client's
    first bytes (ssl_preread) before it returns "ACK!": a return with
    the message unread resets the connection, and the reset destroys
    the ACK."""
    return "\n".join([
        "# written by tests/bench/%s" % writer,
        ("load_module %s;" % module) if module else "# stream: built in",
        "daemon off;",
        "master_process on;",
        "worker_processes %d;" % workers,
        "worker_rlimit_nofile %d;" % (NGINX_CONNECTIONS + 100),
        "pid %s/nginx.pid;" % prefix,
        "error_log %s/error.log warn;" % prefix,
        "events { worker_connections %d; }" % NGINX_CONNECTIONS,
        "stream {",
        "    server {",
        "        listen %s;" % listen] +
        ["        %s" % line for line in tls_lines] + [
        "        ssl_preread on;",
        "        preread_timeout %s;" % NGINX_PREREAD_TIMEOUT,
        "        return \"ACK!\";",
        "    }",
        "}", ""])


def free_port(host):
    """A TCP port on host that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def nginx_found():
    """(nginx, its stream module or None if built in), or (None, why)."""
    exe = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",
        "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
    if exe is None:
        return None, "no nginx"
    if os.path.exists(NGINX_MODULE):
        return exe, NGINX_MODULE
    try:
        v = subprocess.run([exe, "-V"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "%s -V: %s" % (exe, e)
    if re.search(rb"--with-stream(\s|$)", v):
        return exe, None
    return None, "%s has no stream module (%s)" % (exe, NGINX_MODULE)


def apt_install(packages):
    """apt-get install packages, starting no service; None, or why not."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = "/usr/sbin/policy-rc.d"
    ours = not os.path.exists(policy)
    if ours:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        p = subprocess.run(["apt-get", "install", "-y", "-qq",
                            "--no-install-recommends"] + list(packages),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    finally:
        if ours:
            os.unlink(policy)
    if p.returncode != 0:
        return "apt-get install %s: %s" % (" ".join(packages),
            p.stdout.decode("utf-8", "replace").strip().splitlines()[-1:])
    # the package enables its service: the benchmark runs its own nginx
    if os.path.isdir("/run/systemd/system"):
        subprocess.run(["systemctl", "disable", "-q", "nginx"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return None


def nginx_ready(install):
    """(nginx, module, None) to measure it, or (None, None, why not)."""
    exe, module = nginx_found()
    if exe is not None:
        return exe, module, None
    if not install:
        return None, None, module + " (and --no-install)"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, None, module + "; installing it needs root and apt-get"
    print("installing nginx's stream module with apt-get ...")
    sys.stdout.flush()
    subprocess.run(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    why = None
    for packages in NGINX_PACKAGES:
        why = apt_install(packages)
        if why is None:
            break
    exe, module = nginx_found()
    if exe is None:
        return None, None, why or module
    return exe, module, None
