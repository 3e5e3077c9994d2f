/* Put a different file where rustbox copied one in, the same size and the
 * same times, so that only its content differs (a trojan for the next run).
 * usage: replace_file PATH TEXT   TEXT is padded with '#' to PATH's size */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct stat old;
    if (argc != 3 || stat(argv[1], &old) != 0) {
        fprintf(stderr, "usage: replace_file PATH TEXT (PATH must exist)\n");
        return 2;
    }
    size_t len = strlen(argv[2]);
    if (len > (size_t)old.st_size) {
        fprintf(stderr, "TEXT is longer than %s\n", argv[1]);
        return 2;
    }
    char *content = malloc(old.st_size);
    memcpy(content, argv[2], len);
    memset(content + len, '#', old.st_size - len);
    char temp[4096];
    snprintf(temp, sizeof temp, "%s.new", argv[1]);
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0 || write(fd, content, old.st_size) != old.st_size) {
        perror("write");
        return 1;
    }
    struct timespec times[2] = { old.st_atim, old.st_mtim };
    if (futimens(fd, times) != 0 || fchmod(fd, old.st_mode & 07777) != 0 || close(fd) != 0
        || rename(temp, argv[1]) != 0) {
        perror("replace");
        return 1;
    }
    printf("replaced %s (%lld bytes)\n", argv[1], (long long)old.st_size);
    return 0;
}
