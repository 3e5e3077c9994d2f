/* Burns CPU forever, or for argv[1] seconds of CPU time. */
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
    double limit = argc > 1 ? atof(argv[1]) : 1e18;
    volatile unsigned long x = 0;
    while ((double)clock() / CLOCKS_PER_SEC < limit)
        for (int i = 0; i < 100000; i++) x++;
    return 0;
}
