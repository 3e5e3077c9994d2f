/* Closes its stdout at once, then waits for its input to end. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    close(1);
    while (getchar() != EOF)
        ;
    return 0;
}
