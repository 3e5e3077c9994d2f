/* Writes argv[1] MiB to the file argv[2]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 1024;
    FILE *f = fopen(argc > 2 ? argv[2] : "big.out", "w");
    if (!f) { perror("fopen"); return 1; }
    static char buf[1 << 20];
    memset(buf, 'x', sizeof buf);
    for (size_t i = 0; i < mib; i++)
        if (fwrite(buf, 1, sizeof buf, f) != sizeof buf) { perror("fwrite"); return 1; }
    return fclose(f) ? 1 : 0;
}
