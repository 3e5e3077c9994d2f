/* Fork children that wait forever until fork fails; print how many we got.
 * The children stay behind when we exit: the sandbox must remove them. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    int children = 0;
    for (int i = 0; i < 10000; i++) {
        pid_t pid = fork();
        if (pid < 0)
            break;
        if (pid == 0) {
            for (;;)
                pause();
        }
        children++;
    }
    printf("%d\n", children);
    return 0;
}
