/* Leave traps in /box for whoever cleans it up as root: links to host
 * files and directories, an unreadable directory holding more links, a
 * FIFO, and a file named like a path. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
    int bad = 0;
    bad |= symlink("/etc/passwd", "/box/passwd") != 0;
    bad |= symlink("/etc", "/box/etc") != 0;
    bad |= symlink("/", "/box/root") != 0;
    bad |= mkdir("/box/locked", 0755) != 0;
    bad |= symlink("/etc/passwd", "/box/locked/passwd") != 0;
    bad |= symlink("/usr", "/box/locked/usr") != 0;
    bad |= chmod("/box/locked", 0) != 0;
    bad |= mkfifo("/box/fifo", 0644) != 0;
    bad |= symlink("/etc/passwd", "/box/stdout.txt") != 0;
    printf("traps laid%s\n", bad ? " (some failed)" : "");
    return bad ? 3 : 0;
}
