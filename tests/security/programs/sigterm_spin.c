/* Catch every catchable signal and keep spinning, in the handler too. */
#include <signal.h>

static void spin(int signum)
{
    (void)signum;
    for (volatile unsigned long i = 0;; i++)
        ;
}

int main(void)
{
    for (int signum = 1; signum < 32; signum++)
        if (signum != SIGKILL && signum != SIGSTOP)
            signal(signum, spin);
    for (volatile unsigned long i = 0;; i++)
        ;
}
