/* seccomp_log name: prctl(PR_SET_NAME) and PR_GET_NAME, prints "named" (an
 * ordinary prctl must keep working).
 * seccomp_log seccomp|prctl|prctl-high: install a seccomp filter of our own
 * that logs every system call (SECCOMP_RET_LOG) - through seccomp(), through
 * prctl(PR_SET_SECCOMP), or through prctl with junk in the option's high 32
 * bits (the kernel reads an int) - then make 100 calls. Prints "installed"
 * or "refused ERRNO". Each logged call is a record in the host's audit log. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct sock_filter code[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_LOG)};
    struct sock_fprog prog = {.len = 1, .filter = code};
    long r;
    if (!strcmp(argv[1], "name")) {
        char name[16] = "";
        if (prctl(PR_SET_NAME, "renamed", 0, 0, 0) || prctl(PR_GET_NAME, name, 0, 0, 0)) return 1;
        printf(strcmp(name, "renamed") ? "unnamed\n" : "named\n");
        return 0;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (!strcmp(argv[1], "seccomp"))
        r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG, &prog);
    else if (!strcmp(argv[1], "prctl"))
        r = syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
    else
        r = syscall(SYS_prctl, 0x100000000L | PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
    int err = errno;
    for (int i = 0; i < 100; i++)
        getppid();
    if (r == 0)
        printf("installed\n");
    else
        printf("refused %s\n", err == EPERM ? "EPERM" : strerror(err));
    return 0;
}
