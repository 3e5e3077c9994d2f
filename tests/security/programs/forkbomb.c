/* The classic: every process forks forever and ignores failures. */
#include <unistd.h>

int main(void)
{
    for (;;)
        fork();
}
