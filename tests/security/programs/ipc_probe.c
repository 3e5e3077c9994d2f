/* Reach host objects that live in namespaces, not in the file system:
 * a SysV shared memory segment (by id) and an abstract UNIX socket.
 * usage: ipc_probe SHM_ID SOCKET_NAME; exit 42 if either is reached. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int escaped = 0;
    void *shm = shmat(atoi(argv[1]), NULL, SHM_RDONLY);
    printf("shmat: %s\n", shm == (void *)-1 ? strerror(errno) : "ATTACHED");
    escaped |= shm != (void *)-1;

    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t len = strlen(argv[2]);
    memcpy(addr.sun_path + 1, argv[2], len);   /* sun_path[0] = 0: abstract */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    int rc = connect(fd, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len));
    printf("abstract socket: %s\n", rc < 0 ? strerror(errno) : "CONNECTED");
    escaped |= rc == 0;
    return escaped ? 42 : 0;
}
