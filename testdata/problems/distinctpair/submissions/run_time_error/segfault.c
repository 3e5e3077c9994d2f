#include <stdio.h>
int main(void) {
    unsigned long long n;
    int *table = NULL;
    if (scanf("%llu", &n) != 1) return 1;
    if (n > 100) table[n] = 1;    /* a null pointer write: SIGSEGV */
    if (n <= 2) puts("impossible");
    else printf("1 %llu\n", n - 1);
    return 0;
}
