/* Tries every a from n/2 down: fine for small n, hopeless for 10^18. */
#include <stdio.h>
int main(void) {
    unsigned long long n, a, found = 0;
    if (scanf("%llu", &n) != 1) return 1;
    for (a = n / 2; a >= 1; a--) {
        unsigned long long b = n - a;
        if (a != b && b > 0 && a * 3 == b) { found = a; break; }   /* insists on a 1:3 split */
    }
    if (found) printf("%llu %llu\n", found, n - found);
    else if (n <= 2) puts("impossible");
    else printf("1 %llu\n", n - 1);
    return 0;
}
