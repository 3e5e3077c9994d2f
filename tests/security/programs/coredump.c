/* Report RLIMIT_CORE, then crash: a core file would land in /box. */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>

int main(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_CORE, &rl);
    printf("RLIMIT_CORE %lld %lld\n", (long long)rl.rlim_cur, (long long)rl.rlim_max);
    fflush(stdout);
    raise(SIGSEGV);
    return 0;
}
