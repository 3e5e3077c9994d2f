/* One system call a contestant's program should never get away with.
 *
 * usage: attack NAME   (see the table at the bottom)
 *
 * Each attack makes the raw call (no libc wrapper, so nothing is filtered
 * or emulated on the way) and reports what the kernel said. Exit status:
 *   0   the call failed: some layer below seccomp stopped it
 *   42  the call succeeded: the box let it through
 * A seccomp kill never gets that far: the verdict is SG, signal 31.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int report(const char *what, long rc)
{
    if (rc < 0) {
        printf("%s: failed: %s\n", what, strerror(errno));
        return 0;
    }
    printf("%s: SUCCEEDED (%ld)\n", what, rc);
    return 42;
}

static int a_mount(void)
{
    return report("mount tmpfs on /tmp",
                  syscall(SYS_mount, "none", "/tmp", "tmpfs", 0L, "size=1m"));
}

static int a_umount(void) { return report("umount /usr", syscall(SYS_umount2, "/usr", 2L)); }

static int a_unshare_user(void)
{
    return report("unshare(CLONE_NEWUSER)", syscall(SYS_unshare, (long)CLONE_NEWUSER));
}

static int a_unshare_mount(void)
{
    return report("unshare(CLONE_NEWNS)", syscall(SYS_unshare, (long)CLONE_NEWNS));
}

static int a_clone_newuser(void)
{
    long pid = syscall(SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L);
    if (pid == 0)
        _exit(0);
    return report("clone(CLONE_NEWUSER)", pid);
}

static int a_setns(void)
{
    /* The host's namespaces are out of reach; try our own /proc/1 (pid 1 of the box). */
    int fd = open("/proc/1/ns/net", O_RDONLY);
    if (fd < 0)
        fd = open("/proc/self/ns/net", O_RDONLY);
    return report("setns", syscall(SYS_setns, (long)fd, 0L));
}

static int a_chroot(void) { return report("chroot /tmp", syscall(SYS_chroot, "/tmp")); }

static int a_pivot_root(void) { return report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp")); }

static int a_setuid0(void)
{
    long rc = syscall(SYS_setuid, 0L);
    if (rc == 0 && geteuid() != 0)
        rc = -1;
    return report("setuid(0)", rc);
}

static int a_sethostname(void)
{
    return report("sethostname", syscall(SYS_sethostname, "pwned", 5L));
}

static int a_keyctl(void)
{
    return report("keyctl(GET_KEYRING_ID, user keyring)",
                  syscall(SYS_keyctl, (long)KEYCTL_GET_KEYRING_ID, (long)KEY_SPEC_USER_KEYRING, 0L));
}

static int a_add_key(void)
{
    return report("add_key", syscall(SYS_add_key, "user", "rustbox-test", "x", 1L,
                                      (long)KEY_SPEC_PROCESS_KEYRING));
}

static int a_bpf(void)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    return report("bpf(MAP_CREATE)", syscall(SYS_bpf, (long)BPF_MAP_CREATE, &attr, (long)sizeof attr));
}

static int a_perf(void)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_TASK_CLOCK;
    attr.exclude_kernel = 1;
    return report("perf_event_open(self)", syscall(SYS_perf_event_open, &attr, 0L, -1L, -1L, 0L));
}

static int a_reboot(void)
{
    /* CAD_OFF only changes what Ctrl-Alt-Del does: harmless even if it went through. */
    return report("reboot(CAD_OFF)", syscall(SYS_reboot, (long)LINUX_REBOOT_MAGIC1,
                                             (long)LINUX_REBOOT_MAGIC2, (long)LINUX_REBOOT_CMD_CAD_OFF, 0L));
}

static int a_io_uring(void)
{
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    return report("io_uring_setup", syscall(SYS_io_uring_setup, 4L, &params));
}

static int a_ptrace_traceme(void)
{
    return report("ptrace(TRACEME)", syscall(SYS_ptrace, (long)PTRACE_TRACEME, 0L, 0L, 0L));
}

static int a_ptrace_pid1(void)
{
    return report("ptrace(ATTACH, 1)", syscall(SYS_ptrace, (long)PTRACE_ATTACH, 1L, 0L, 0L));
}

static int a_personality(void)
{
    return report("personality(ADDR_NO_RANDOMIZE)", syscall(SYS_personality, (long)ADDR_NO_RANDOMIZE));
}

static int a_settime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return report("clock_settime", syscall(SYS_clock_settime, (long)CLOCK_REALTIME, &ts));
}

static int a_kexec(void) { return report("kexec_load", syscall(SYS_kexec_load, 0L, 0L, 0L, 0L)); }

static int a_init_module(void) { return report("init_module", syscall(SYS_init_module, 0L, 0L, "")); }

static int a_userfaultfd(void) { return report("userfaultfd", syscall(SYS_userfaultfd, 0L)); }

static int a_open_by_handle(void)
{
    return report("open_by_handle_at", syscall(SYS_open_by_handle_at, (long)AT_FDCWD, 0L, 0L));
}

static int a_tiocsti(void)
{
    /* Push a command into the input of the terminal rustbox was started from. */
    const char *text = "echo PWNED-BY-THE-BOX\n";
    long rc = 0;
    for (const char *p = text; *p && rc >= 0; p++)
        rc = syscall(SYS_ioctl, 0L, (long)TIOCSTI, p);
    return report("ioctl(0, TIOCSTI)", rc);
}

static int a_int80_ptrace(void)
{
    /* The 32-bit ABI numbers ptrace 26: a deny-list keyed on x86_64 numbers misses it. */
    long rc;
    __asm__ volatile("int $0x80" : "=a"(rc) : "a"(26L), "b"((long)PTRACE_TRACEME), "c"(0L), "d"(0L) : "memory");
    if (rc < 0) {
        errno = (int)-rc;
        rc = -1;
    }
    return report("ptrace(TRACEME) through int 0x80", rc);
}

static const struct {
    const char *name;
    int (*run)(void);
} attacks[] = {
    {"mount", a_mount},           {"umount", a_umount},
    {"unshare_user", a_unshare_user}, {"unshare_mount", a_unshare_mount},
    {"clone_newuser", a_clone_newuser}, {"setns", a_setns},
    {"chroot", a_chroot},         {"pivot_root", a_pivot_root},
    {"setuid0", a_setuid0},       {"sethostname", a_sethostname},
    {"keyctl", a_keyctl},         {"add_key", a_add_key},
    {"bpf", a_bpf},               {"perf_event_open", a_perf},
    {"reboot", a_reboot},         {"io_uring_setup", a_io_uring},
    {"ptrace_traceme", a_ptrace_traceme}, {"ptrace_pid1", a_ptrace_pid1},
    {"personality", a_personality}, {"clock_settime", a_settime},
    {"kexec_load", a_kexec},      {"init_module", a_init_module},
    {"userfaultfd", a_userfaultfd}, {"open_by_handle_at", a_open_by_handle},
    {"tiocsti", a_tiocsti},       {"int80_ptrace", a_int80_ptrace},
};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: attack NAME\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++)
        if (strcmp(argv[1], attacks[i].name) == 0)
            return attacks[i].run();
    fprintf(stderr, "unknown attack %s\n", argv[1]);
    return 2;
}
