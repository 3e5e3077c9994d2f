/* Floods its output with the same guess, never reading a reply. */
#include <stdio.h>

int main(void) {
    for (;;)
        puts("2");
}
