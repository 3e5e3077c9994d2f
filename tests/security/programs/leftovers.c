/* What one run can leave for the next in kernel objects that outlive it.
 *
 * usage: leftovers leave MESSAGE [keys]  leave MESSAGE in every channel below
 *        leftovers find [keys]           print what an earlier run left; exit
 *                                        42 if anything was found, 0 if nothing
 * ("keys": the keyring channel too; the default seccomp policy kills keyctl)
 *
 * Channels (each named on its own output line):
 *   tcp      TIME_WAIT sockets whose local ports spell the message
 *            (port 20000 + index*256 + byte), read back from /proc/net/tcp
 *   shm msg sem   SysV shared memory, message queue and semaphore (IPC key)
 *   mqueue   a POSIX message queue
 *   tmp      a file in /tmp, and one in /dev/shm if the box has a writable one
 *   keyring  "user" keys in the session and user keyrings (keyctl: only
 *            with --seccomp off), found by search or in /proc/keys
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define IPC_KEY 0x52424c46          /* "RBLF" */
#define MQ_NAME "/rustbox-leftover"
#define TMP_FILE "/tmp/rustbox-leftover"
#define SHM_FILE "/dev/shm/rustbox-leftover"   /* shm_open's and sem_open's home */
#define KEY_DESC "rustbox-leftover"
#define PORT_BASE 20000
#define SERVER_PORT 19999
#define MAX_MSG 64

#define KEY_SPEC_SESSION_KEYRING -3
#define KEY_SPEC_USER_KEYRING -4
#define KEY_SPEC_USER_SESSION_KEYRING -5
#define KEYCTL_READ 11
#define KEYCTL_SEARCH 10

struct msgbuf_ { long type; char text[MAX_MSG]; };

static int found;

static void report(const char *channel, const char *text)
{
    printf("found %s: %s\n", channel, text);
    found = 1;
}

static void leave_tcp(const char *message)
{
    int server = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(SERVER_PORT),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(server, (void *)&addr, sizeof addr) || listen(server, 128)) {
        printf("tcp: listen: %s\n", strerror(errno));
        return;
    }
    for (size_t i = 0; message[i] && i < MAX_MSG; i++) {
        int client = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in local = addr;
        local.sin_port = htons(PORT_BASE + i * 256 + (unsigned char)message[i]);
        setsockopt(client, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(client, (void *)&local, sizeof local) || connect(client, (void *)&addr, sizeof addr)) {
            printf("tcp: connect: %s\n", strerror(errno));
            close(client);
            continue;
        }
        int accepted = accept(server, NULL, NULL);
        close(client);                 /* the active closer keeps TIME_WAIT */
        usleep(1000);
        close(accepted);
    }
    close(server);
    printf("left tcp\n");
}

static void find_tcp(void)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512], message[MAX_MSG + 1] = {0};
    int entries = 0;
    if (!f) {
        printf("tcp: /proc/net/tcp: %s\n", strerror(errno));
        return;
    }
    fgets(line, sizeof line, f);       /* header */
    while (fgets(line, sizeof line, f)) {
        unsigned local_port, state;
        char local[64], remote[64];
        if (sscanf(line, "%*d: %63s %63s %x", local, remote, &state) != 3)
            continue;
        entries++;
        char *colon = strchr(local, ':');
        if (!colon || sscanf(colon + 1, "%x", &local_port) != 1)
            continue;
        unsigned offset = local_port - PORT_BASE;
        if (state == 6 && local_port >= PORT_BASE && offset / 256 < MAX_MSG)
            message[offset / 256] = (char)(offset % 256);
    }
    fclose(f);
    for (int i = 0; i < MAX_MSG; i++)  /* gaps would end the string early */
        if (!message[i] && i + 1 < MAX_MSG && message[i + 1])
            message[i] = '?';
    if (message[0])
        report("tcp", message);
    else if (entries)
        printf("tcp: %d sockets of an earlier run in /proc/net/tcp\n", entries), found = 1;
}

static void leave_ipc(const char *message)
{
    int shm = shmget(IPC_KEY, 4096, IPC_CREAT | 0600);
    char *mem = shm < 0 ? (void *)-1 : shmat(shm, NULL, 0);
    if (mem != (void *)-1) {
        strncpy(mem, message, 4095);
        shmdt(mem);
        printf("left shm\n");
    } else {
        printf("shm: %s\n", strerror(errno));
    }
    int queue = msgget(IPC_KEY, IPC_CREAT | 0600);
    struct msgbuf_ buf = { .type = 1 };
    strncpy(buf.text, message, MAX_MSG - 1);
    if (queue >= 0 && msgsnd(queue, &buf, sizeof buf.text, IPC_NOWAIT) == 0)
        printf("left msg\n");
    else
        printf("msg: %s\n", strerror(errno));
    int sem = semget(IPC_KEY, 1, IPC_CREAT | 0600);
    if (sem >= 0 && semctl(sem, 0, SETVAL, (int)strlen(message)) == 0)
        printf("left sem\n");
    else
        printf("sem: %s\n", strerror(errno));
    struct mq_attr attr = { .mq_maxmsg = 1, .mq_msgsize = MAX_MSG };
    mqd_t mq = mq_open(MQ_NAME, O_CREAT | O_WRONLY, 0600, &attr);
    if (mq != (mqd_t)-1 && mq_send(mq, message, strlen(message) + 1, 0) == 0)
        printf("left mqueue\n");
    else
        printf("mqueue: %s\n", strerror(errno));
}

static void find_ipc(void)
{
    int shm = shmget(IPC_KEY, 0, 0);
    if (shm >= 0) {
        char *mem = shmat(shm, NULL, SHM_RDONLY);
        report("shm", mem == (void *)-1 ? "(segment exists)" : mem);
    }
    int queue = msgget(IPC_KEY, 0);
    if (queue >= 0) {
        struct msgbuf_ buf;
        report("msg", msgrcv(queue, &buf, sizeof buf.text, 0, IPC_NOWAIT) >= 0
                      ? buf.text : "(queue exists)");
    }
    int sem = semget(IPC_KEY, 0, 0);
    if (sem >= 0) {
        char text[32];
        snprintf(text, sizeof text, "value %d", semctl(sem, 0, GETVAL));
        report("sem", text);
    }
    mqd_t mq = mq_open(MQ_NAME, O_RDONLY | O_NONBLOCK);
    if (mq != (mqd_t)-1) {
        char text[MAX_MSG + 1] = "(queue exists)";
        mq_receive(mq, text, sizeof text, NULL);
        report("mqueue", text);
    }
}

static void leave_file(const char *channel, const char *path, const char *message)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0 && write(fd, message, strlen(message)) >= 0)
        printf("left %s\n", channel);
    else
        printf("%s: %s\n", channel, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void find_file(const char *channel, const char *path)
{
    char text[MAX_MSG + 1] = {0};
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        if (read(fd, text, MAX_MSG) < 0)
            strcpy(text, "(file exists)");
        report(channel, text);
        close(fd);
    }
}

static void leave_keys(const char *message)
{
    static const int rings[] = { KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING,
                                 KEY_SPEC_USER_SESSION_KEYRING };
    static const char *names[] = { "session", "user", "user-session" };
    for (int i = 0; i < 3; i++) {
        long key = syscall(SYS_add_key, "user", KEY_DESC, message, strlen(message), rings[i]);
        if (key < 0)
            printf("keyring %s: %s\n", names[i], strerror(errno));
        else
            printf("left keyring %s\n", names[i]);
    }
}

static void find_keys(void)
{
    static const int rings[] = { KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING,
                                 KEY_SPEC_USER_SESSION_KEYRING };
    for (int i = 0; i < 3; i++) {
        long key = syscall(SYS_keyctl, KEYCTL_SEARCH, rings[i], "user", KEY_DESC, 0);
        if (key >= 0) {
            char text[MAX_MSG + 1] = "(key exists)";
            long n = syscall(SYS_keyctl, KEYCTL_READ, key, text, MAX_MSG);
            if (n >= 0 && n <= MAX_MSG)
                text[n] = 0;
            report("keyring", text);
        }
    }
    FILE *f = fopen("/proc/keys", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, KEY_DESC)) {
            line[strcspn(line, "\n")] = 0;
            report("/proc/keys", line);
        }
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int keys = argc >= 3 && !strcmp(argv[argc - 1], "keys");
    if ((argc == 3 || (argc == 4 && keys)) && !strcmp(argv[1], "leave")) {
        leave_tcp(argv[2]);
        leave_ipc(argv[2]);
        leave_file("tmp", TMP_FILE, argv[2]);
        leave_file("devshm", SHM_FILE, argv[2]);
        if (keys)
            leave_keys(argv[2]);
        return 0;
    }
    if ((argc == 2 || (argc == 3 && keys)) && !strcmp(argv[1], "find")) {
        find_tcp();
        find_ipc();
        find_file("tmp", TMP_FILE);
        find_file("devshm", SHM_FILE);
        if (keys)
            find_keys();
        printf(found ? "leftovers found\n" : "nothing left\n");
        return found ? 42 : 0;
    }
    fprintf(stderr, "usage: leftovers leave MESSAGE [keys] | leftovers find [keys]\n");
    return 2;
}
