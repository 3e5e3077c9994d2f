/* Installed setuid root by the test: print who we are; exit 42 if root. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    printf("uid %d euid %d\n", (int)getuid(), (int)geteuid());
    return geteuid() == 0 ? 42 : 0;
}
