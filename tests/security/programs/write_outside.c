/* Try to create a file in each directory given; /box and /tmp must work,
 * everything else must fail. Exit 42 on an escape, 3 if /box or /tmp broke. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int try_create(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/rustbox-escape-test", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        printf("%s: %s\n", path, strerror(errno));
        return 0;
    }
    write(fd, "escaped\n", 8);
    close(fd);
    printf("%s: CREATED\n", path);
    return 1;
}

int main(int argc, char **argv)
{
    if (!try_create("/box") || !try_create("/tmp"))
        return 3;
    int escaped = 0;
    for (int i = 1; i < argc; i++)
        escaped |= try_create(argv[i]);
    int fd = open("/etc/passwd", O_WRONLY | O_APPEND);
    printf("/etc/passwd for append: %s\n", fd < 0 ? strerror(errno) : "OPENED");
    escaped |= fd >= 0;
    return escaped ? 42 : 0;
}
