/* kill_loop: forks children for ever, each of which makes a forbidden call
 * (ptrace(PTRACE_TRACEME) under `default`) and is killed by the filter; the
 * parent never makes one itself and exits 0 after 3 s. Each kill is one
 * record in the host's audit log: without a bound, thousands per run. */
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    time_t end = time(NULL) + 3;
    while (time(NULL) < end) {
        pid_t pid = fork();
        if (pid == 0) {
            ptrace(PTRACE_TRACEME, 0, 0, 0);
            _exit(0);
        }
        if (pid > 0)
            waitpid(pid, NULL, 0);
    }
    return 0;
}
