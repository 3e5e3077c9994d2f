/* Double fork + setsid: a daemon that tries to outlive the run and then
 * leave a mark in the box. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    unsigned delay = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
    if (fork() != 0)
        return 0;                        /* the parent is done at once */
    setsid();
    if (fork() != 0)
        _exit(0);
    close(0);
    close(1);
    close(2);
    sleep(delay);
    int fd = open("/box/daemon_was_here", O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        write(fd, "alive\n", 6);
    for (;;)
        pause();
}
