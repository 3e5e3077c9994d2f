/* pin_kernel MODE MIB PROCS: each of PROCS processes makes the kernel hold
 * up to MIB MiB for it in MODE (tcp, udp: loopback sockets nobody reads;
 * unix: socketpairs; pipe: 1 MiB pipes), then prints "pinned BYTES": what
 * the kernel charged for its buffers (SO_MEMINFO, or the pipes' sizes),
 * holds it a moment so all processes hold at once, and exits 0. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

static char buf[1 << 16];
static int big = 1 << 30;
static int held[4096], nheld;   /* the fds whose queues are measured */
static long written;            /* bytes handed to the kernel: a bound on the loop */

static long meminfo(int fd) {   /* bytes charged to this socket's queues */
    unsigned int info[SK_MEMINFO_VARS] = {0};
    socklen_t len = sizeof info;
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &len)) return 0;
    /* A UNIX stream's data is charged to the sender (wmem_alloc); TCP's to
     * the receiver's queue and the sender's unsent queue. */
    return (long)info[SK_MEMINFO_RMEM_ALLOC] + info[SK_MEMINFO_WMEM_QUEUED]
           + info[SK_MEMINFO_WMEM_ALLOC];
}

static long pinned(const char *mode) {
    long total = 0;
    for (int i = 0; i < nheld; i++) {
        if (!strcmp(mode, "pipe")) total += fcntl(held[i], F_GETPIPE_SZ);
        else total += meminfo(held[i]);
    }
    return total;
}

static int fill(int fd, long most) {    /* 1 when the kernel took at least 256 KiB */
    long n, done = 0;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    while (done < most && (n = write(fd, buf, sizeof buf)) > 0) done += n;
    written += done;
    return done >= (256 << 10);
}

static int pair(const char *mode, long most) {
    int sv[2];
    if (!strcmp(mode, "pipe")) {
        if (pipe(sv)) return 0;
        fcntl(sv[1], F_SETPIPE_SZ, 1 << 20);
        held[nheld++] = sv[1];
        return fill(sv[1], most);
    }
    if (!strcmp(mode, "unix")) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return 0;
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        held[nheld++] = sv[0];   /* sv[1] stays open, unread */
        return fill(sv[0], most);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int udp = !strcmp(mode, "udp");
    int r = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    setsockopt(r, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (r < 0 || bind(r, (void *)&a, len) || getsockname(r, (void *)&a, &len)) return 0;
    if (!udp && listen(r, 1)) return 0;
    int s = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (s < 0 || connect(s, (void *)&a, len)) return 0;
    if (udp) {
        held[nheld++] = r;
        fcntl(s, F_SETFL, O_NONBLOCK);
        long before = meminfo(r);
        for (int k = 0; k < 2000 && meminfo(r) - before < most; k++, written += 60000)
            if (send(s, buf, 60000, 0) <= 0) break;
        close(s);
        return meminfo(r) - before >= (256 << 10);
    }
    int c = accept(r, 0, 0);
    close(r);
    if (c < 0) return 0;
    held[nheld++] = s;
    held[nheld++] = c;
    return fill(s, most);
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    const char *mode = argv[1];
    long want = atol(argv[2]) << 20;
    int procs = atoi(argv[3]);
    for (int i = 1; i < procs; i++)
        if (fork() == 0) break;
    while (nheld < 4000 && written < 2 * want && pinned(mode) < want
           && pair(mode, want - pinned(mode)))
        ;
    printf("pinned %ld\n", pinned(mode));
    fflush(stdout);
    usleep(500000);
    while (wait(NULL) > 0)
        ;
    return 0;
}
