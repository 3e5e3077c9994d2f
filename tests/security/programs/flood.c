/* Write to stdout as fast as possible, forever. */
#include <string.h>
#include <unistd.h>

int main(void)
{
    static char block[1 << 16];
    memset(block, 'x', sizeof block);
    for (;;)
        if (write(1, block, sizeof block) < 0)
            return 3;
}
