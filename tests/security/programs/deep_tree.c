/* A directory tree deeper than any recursive cleanup can walk. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int depth = argc > 1 ? atoi(argv[1]) : 5000;
    for (int i = 0; i < depth; i++)
        if (mkdir("d", 0755) != 0 || chdir("d") != 0) {
            printf("stopped at depth %d\n", i);
            return 3;
        }
    symlink("/etc/passwd", "passwd");
    printf("depth %d\n", depth);
    return 0;
}
