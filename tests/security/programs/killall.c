/* Signal every process we may: kill(-1) and pid 1. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    int all = kill(-1, SIGKILL);
    printf("kill(-1, SIGKILL) = %d (%s)\n", all, all ? strerror(errno) : "ok");
    int init = kill(1, SIGKILL);
    printf("kill(1, SIGKILL) = %d (%s)\n", init, init ? strerror(errno) : "ok");
    return 0;
}
