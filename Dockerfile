# rustbox + judge in one image.
#
# A sandbox needs the kernel's namespaces and cgroups, so run the container
# privileged, with the host's cgroup tree and its own PID namespace:
#
#   docker build -t rustbox .
#   docker run --rm --privileged --cgroupns=host \
#       -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
#       rustbox rustbox run --mem 64M --time 2 /bin/true
#
# --privileged gives CAP_SYS_ADMIN (mount, pivot_root, setns), the right to
# write cgroup files and to create network namespaces; --cgroupns=host plus
# the bind mount let rustbox create its own `rustbox/box-N` cgroups. Nothing
# outside that sub-tree is touched.
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev gcc g++ make libc6-dev libstdc++-12-dev \
        libcap-dev libseccomp2 \
        default-jdk-headless nodejs rustc redis-server procps \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/rustbox
COPY pyproject.toml setup.py README.md ./
COPY rustbox ./rustbox
COPY judge ./judge
RUN python3 -m venv /opt/rustbox/.venv \
 && /opt/rustbox/.venv/bin/pip install --no-cache-dir . \
 && ln -s /opt/rustbox/.venv/bin/rustbox /usr/local/bin/rustbox \
 && ln -s /opt/rustbox/.venv/bin/judge /usr/local/bin/judge

VOLUME /var/lib/rustbox
CMD ["rustbox", "check-env"]
