/* Try to read each path given; exit 42 if any of them could be read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int leaked = 0;
    for (int i = 1; i < argc; i++) {
        char buf[4096];
        int fd = open(argv[i], O_RDONLY);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
        if (n < 0) {
            printf("%s: %s\n", argv[i], strerror(errno));
            continue;
        }
        printf("%s: READ %zd bytes: %.*s\n", argv[i], n, (int)(n > 200 ? 200 : n), buf);
        leaked = 1;
    }
    return leaked ? 42 : 0;
}
