#include <stdio.h>
int main(void) {
    long long a, b;
    if (scanf("%lld %lld", &a, &b) != 2) return 1;
    volatile unsigned long long x = 0;
    for (;;) x++;          /* never finishes */
    printf("%lld\n", a + b);
}
