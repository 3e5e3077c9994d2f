/* argv[1] threads, each burning argv[2] seconds of its own CPU time. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
static double secs;
static void *burn(void *arg) {
    struct timespec ts;
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 100000; i++) x++;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    } while (ts.tv_sec + ts.tv_nsec / 1e9 < secs);
    return arg;
}
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2;
    secs = argc > 2 ? atof(argv[2]) : 0.5;
    pthread_t t[64];
    for (int i = 0; i < n; i++) if (pthread_create(&t[i], 0, burn, 0)) return 1;
    for (int i = 0; i < n; i++) pthread_join(t[i], 0);
    return 0;
}
