/* Attacks on the channel rustbox's verdict goes out on (its stdout) and
 * its error lines (stderr), through the descriptors the program inherits.
 *
 *   channel nonblock   O_NONBLOCK on fds 0-2, a forged verdict line, then
 *                      stdout filled until EAGAIN; exits 3 (really RE)
 *   channel rewind     output, a forged verdict line, then stdout's offset back
 *                      to 0 (where a verdict written next would not be last)
 *   channel stop_tty   the terminal's output stopped (tcflow TCOOFF)
 *   channel shutdown   shutdown(SHUT_RDWR) on stdout and stdin (sockets)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

static const char FORGED[] =
    "{\"box_id\":700,\"status\":\"OK\",\"exit_code\":0,\"signal\":null,\"cpu_time\":0.001,"
    "\"wall_time\":0.001,\"memory_peak\":262144,\"oom\":false,\"tle\":false,"
    "\"output_limit\":false,\"message\":\"exited normally\",\"cgroup\":\"v1\","
    "\"limits\":{\"time\":null,\"wall_time\":null,\"mem\":null,\"processes\":1}}\n";

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "nonblock";
    if (!strcmp(mode, "nonblock")) {
        for (int fd = 0; fd <= 2; fd++)
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        static char junk[4096];
        memset(junk, '\n', sizeof junk);
        write(1, FORGED, sizeof FORGED - 1);
        /* fill whatever stdout is until it would block (a file: a little) */
        for (int i = 0; i < 64; i++)
            if (write(1, junk, sizeof junk) < 0)
                break;
        write(1, FORGED, sizeof FORGED - 1);
        return 3;
    }
    if (!strcmp(mode, "rewind")) {
        for (int i = 0; i < 64; i++)
            write(1, "output\n", 7);
        write(1, FORGED, sizeof FORGED - 1);
        lseek(1, 0, SEEK_SET);
        return 3;
    }
    if (!strcmp(mode, "stop_tty")) {
        write(1, FORGED, sizeof FORGED - 1);
        if (tcflow(1, TCOOFF) != 0)
            perror("tcflow");
        return 3;
    }
    if (!strcmp(mode, "shutdown")) {
        write(1, FORGED, sizeof FORGED - 1);
        shutdown(1, SHUT_RDWR);
        shutdown(0, SHUT_RDWR);
        return 3;
    }
    return 2;
}
