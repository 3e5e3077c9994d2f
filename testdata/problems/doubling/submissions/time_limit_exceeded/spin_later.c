/* Fast on the first pass, spins on the next (odd inputs). */
#include <stdio.h>

int main(void) {
    volatile long n;
    long v;
    if (scanf("%ld", &v) != 1)
        return 1;
    n = v;
    while (n % 2)
        n += 2;
    printf("%ld\n", 2 * v);
    return 0;
}
