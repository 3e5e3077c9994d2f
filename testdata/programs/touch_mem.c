/* Allocates and touches argv[1] MiB, one page at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 64;
    volatile char *p = malloc(mib << 20);
    if (!p) { perror("malloc"); return 1; }
    for (size_t i = 0; i < (mib << 20); i += 4096) p[i] = 1;
    return 0;
}
