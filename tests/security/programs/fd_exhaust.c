/* Open descriptors until the kernel says no; print how many we held. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    int opened = 0;
    while (open("/dev/null", O_RDONLY) >= 0)
        opened++;
    int high = dup2(0, 100000);          /* far above the limit */
    printf("%d %d\n", opened, high);
    return 0;
}
