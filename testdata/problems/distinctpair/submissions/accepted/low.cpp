#include <cstdio>
int main() {
    unsigned long long n;
    std::scanf("%llu", &n);
    if (n <= 2) std::puts("impossible");
    else std::printf("1 %llu\n", n - 1);
}
