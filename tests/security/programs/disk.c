/* disk bytes MIB | disk files N: write MIB MiB into /box/big, or create N
 * files in /box; prints what was done and the errno that stopped it
 * ("written 1048576 ENOSPC"); exit 1 when a write or create failed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *name(int err) {
    return err == 0 ? "OK" : err == ENOSPC ? "ENOSPC" : err == EDQUOT ? "EDQUOT" : strerror(err);
}

int main(int argc, char **argv) {
    static char buf[1 << 20];
    memset(buf, 'x', sizeof buf);
    long count = atol(argv[2]), done = 0;
    int err = 0;
    if (!strcmp(argv[1], "bytes")) {
        int fd = open("/box/big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) err = errno;
        for (long i = 0; !err && i < count; ) {
            ssize_t n = write(fd, buf, sizeof buf);
            if (n < 0) err = errno;
            else { done += n; if (n == sizeof buf) i++; }
        }
        if (fd >= 0 && close(fd) && !err) err = errno;
        printf("written %ld %s\n", done, name(err));
    } else {
        char path[64];
        for (; done < count; done++) {
            snprintf(path, sizeof path, "/box/f%ld", done);
            int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
            if (fd < 0) { err = errno; break; }
            close(fd);
        }
        printf("created %ld %s\n", done, name(err));
    }
    return err ? 1 : 0;
}
