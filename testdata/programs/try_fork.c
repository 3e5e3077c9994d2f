/* Prints "fork ok" or "fork failed: <reason>"; exit 0 only if fork worked. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    pid_t pid = fork();
    if (pid < 0) { printf("fork failed: %s\n", strerror(errno)); return 1; }
    if (pid == 0) _exit(0);
    waitpid(pid, 0, 0);
    printf("fork ok\n");
    return 0;
}
