// Overflows: int is too small for |a|, |b| up to 1e18.
#include <cstdio>
int main() {
    int a, b;
    std::scanf("%d %d", &a, &b);
    std::printf("%d\n", a + b);
}
