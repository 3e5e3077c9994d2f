/* The child's steps between clone and execve, in C (rustbox.running._child).
 *
 * spawn() clones the supervisor with CLONE_VM (no copy of the interpreter's
 * page tables: the child runs on a stack of its own, in the parent's memory,
 * until its execve) into a new mount namespace; the child then does the
 * steps of child.py's list, in the same order and with the same step names,
 * and reports on the same pipe in the same records, so verdicts and
 * messages do not depend on which implementation ran:
 *     ("error", step, errno, detail)  a step failed (then exit 127)
 *     ("wait", step, detail)          about to wait for a FIFO's other end
 *     ("start", monotonic seconds)    joined the box cgroups
 *
 * The parent is not suspended (no CLONE_VFORK): the supervisor bounds the
 * child's waits (a FIFO's peer, an earlier run's keys) as before. Sharing
 * the parent's memory sets three rules for the child:
 *   - every system call is made by raw_syscall() (inline assembly): it never
 *     writes errno, which lives in the parent thread's TLS;
 *   - it calls nothing that allocates or takes a lock: everything it needs
 *     is copied by the parent into one block (struct plan) before the clone;
 *   - no signal handler may run in it: the parent blocks every signal around
 *     the clone; the child sets every non-default disposition back to
 *     SIG_DFL before it unblocks them.
 * One child at a time per process (a Runner's); the block and the stack
 * stay allocated until the next spawn(), by which time the previous child
 * has exec'd or been killed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "rustbox's C child supports x86_64 and aarch64"
#endif

/* ---- raw system calls (no errno) ------------------------------------- */

static long raw_syscall(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
#else
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    ret = x0;
#endif
    return ret;   /* -errno on failure */
}

#define SC0(n) raw_syscall((n), 0, 0, 0, 0, 0, 0)
#define SC1(n, a) raw_syscall((n), (long)(a), 0, 0, 0, 0, 0)
#define SC2(n, a, b) raw_syscall((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define SC3(n, a, b, c) raw_syscall((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SC4(n, a, b, c, d) raw_syscall((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SC5(n, a, b, c, d, e) \
    raw_syscall((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#define CLOSE_RANGE_CLOEXEC_ (1U << 2)
#define KEYCTL_JOIN_SESSION_KEYRING_ 1
#define KEYCTL_CLEAR_ 7
#define KEYCTL_GET_PERSISTENT_ 22
#define KEY_SPEC_SESSION_KEYRING_ (-3)
#define KEY_SPEC_USER_KEYRING_ (-4)
#define KEY_SPEC_USER_SESSION_KEYRING_ (-5)
#define PR_SET_PDEATHSIG_ 1
#define PR_CAPBSET_DROP_ 24
#define PR_GET_SECUREBITS_ 27
#define PR_SET_SECUREBITS_ 28
#define PR_SET_NO_NEW_PRIVS_ 38
/* noroot, noroot_locked, no_setuid_fixup_locked, keep_caps_locked */
#define SECUREBITS_SET ((1 << 0) | (1 << 1) | (1 << 3) | (1 << 5))
#define SECCOMP_SET_MODE_FILTER_ 1
#define MNT_DETACH_ 2
#define MAX_SIG 65

/* ---- the plan: everything the child needs, made by the parent -------- */

struct mount_step { const char *source, *target, *fstype, *data; unsigned long flags; };
struct rlimit_step { int resource; uint64_t value; };
/* kind: 0 leave as is, 1 dup `fd`, 2 open `path`, 3 dup fd 1 (stderr to stdout) */
struct stdio_step { int kind, fd, flags, reading; const char *path; };
struct sock_fprog_ { unsigned short len; void *filter; };

struct plan {
    int setup_w;
    int nsignals; int signals[MAX_SIG];
    int host_netns;                       /* -1: keep the run's own netns */
    int nmounts; struct mount_step *mounts;
    const char *new_root;
    int nrlimits; struct rlimit_step *rlimits;
    int last_cap;
    unsigned int uid, gid;
    const char *key_prefix;               /* "%5d:" of the uid in /proc/key-users */
    long long keys_wait_ns;
    struct stdio_step stdio[3];
    struct sock_fprog_ filter;            /* filter.len == 0: no seccomp */
    int njoin; int *join_fds;
    char *const *argv; char *const *envp;
    int ncandidates; const char *const *candidates;  /* where execve looks */
    const char *chdir;                    /* "": stay in /box */
};

/* ---- reporting ---------------------------------------------------------- */

static size_t slen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
    while (*s && at < cap) buf[at++] = *s++;
    return at;
}

static size_t put_uint(char *buf, size_t at, size_t cap, unsigned long long v, int width)
{
    char digits[24]; int n = 0;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n < width) digits[n++] = '0';
    while (n && at < cap) buf[at++] = digits[--n];
    return at;
}

/* One record: 4-byte little-endian length, then the fields joined by NUL. */
static void report(int fd, const char *const *fields, int nfields)
{
    char buf[4096 + 4];
    size_t at = 4, cap = sizeof buf;
    for (int i = 0; i < nfields; i++) {
        if (i) { if (at < cap) buf[at++] = '\0'; }
        at = put(buf, at, cap, fields[i]);
    }
    uint32_t size = (uint32_t)(at - 4);
    buf[0] = (char)(size & 0xff); buf[1] = (char)((size >> 8) & 0xff);
    buf[2] = (char)((size >> 16) & 0xff); buf[3] = (char)((size >> 24) & 0xff);
    SC3(SYS_write, fd, buf, at);
}

static __attribute__((noreturn)) void fail(struct plan *p, const char *step, long err,
                                           const char *detail)
{
    char number[24];
    size_t n = put_uint(number, 0, sizeof number - 1, (unsigned long long)err, 1);
    number[n] = '\0';
    const char *fields[] = {"error", step, number, detail ? detail : ""};
    report(p->setup_w, fields, 4);
    for (;;) SC1(SYS_exit_group, 127);
}

/* detail = prefix + s (+ suffix), in `buf` */
static const char *join3(char *buf, size_t cap, const char *a, const char *b, const char *c)
{
    size_t at = put(buf, 0, cap - 1, a);
    at = put(buf, at, cap - 1, b);
    at = put(buf, at, cap - 1, c);
    buf[at] = '\0';
    return buf;
}

#define CHECK(expr, step, detail) do { long r_ = (expr); if (r_ < 0) fail(p, (step), -r_, (detail)); } while (0)

/* ---- steps ------------------------------------------------------------- */

static long long monotonic_ns(void)
{
    struct timespec ts;
    SC2(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* How many keys the box uid owns (/proc/key-users), dead ones included. */
static long keys_owned(struct plan *p)
{
    char buf[8192];
    long fd = SC4(SYS_openat, AT_FDCWD, "/proc/key-users", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return fd;
    long n = 0, r;
    while (n < (long)sizeof buf - 1 && (r = SC3(SYS_read, fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += r;
    SC1(SYS_close, fd);
    buf[n] = '\0';
    size_t plen = slen(p->key_prefix);
    char *line = buf;
    while (*line) {
        char *end = line;
        while (*end && *end != '\n') end++;
        if ((size_t)(end - line) >= plen && memcmp(line, p->key_prefix, plen) == 0) {
            /* "61000:     3 3/3 2/200 26/20000": the third field's numerator */
            char *s = line + plen;
            for (int field = 0; field < 1; field++) {
                while (s < end && *s == ' ') s++;
                while (s < end && *s != ' ') s++;
            }
            while (s < end && *s == ' ') s++;
            long v = 0;
            while (s < end && *s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
            return v;
        }
        line = *end ? end + 1 : end;
    }
    return 0;
}

static void empty_user_keyrings(struct plan *p)
{
    CHECK(SC2(SYS_keyctl, KEYCTL_CLEAR_, KEY_SPEC_USER_KEYRING_), "keyrings",
          "keyctl clear user keyring");
    CHECK(SC2(SYS_keyctl, KEYCTL_CLEAR_, KEY_SPEC_USER_SESSION_KEYRING_), "keyrings",
          "keyctl clear user session keyring");
    long kept = 2;
    long persistent = SC3(SYS_keyctl, KEYCTL_GET_PERSISTENT_, -1, KEY_SPEC_SESSION_KEYRING_);
    if (persistent >= 0) {
        CHECK(SC2(SYS_keyctl, KEYCTL_CLEAR_, persistent), "keyrings",
              "keyctl clear persistent keyring");
        kept = 3;
    } else if (persistent != -EOPNOTSUPP) {
        fail(p, "keyrings", -persistent, "keyctl get persistent keyring");
    }
    long long deadline = monotonic_ns() + p->keys_wait_ns;
    for (;;) {
        long owned = keys_owned(p);
        if (owned < 0) fail(p, "keyrings", -owned, "/proc/key-users");
        if (owned <= kept) return;
        if (monotonic_ns() > deadline) fail(p, "keyrings", EBUSY, "");
        struct timespec pause = {0, 2000000};
        SC2(SYS_nanosleep, &pause, NULL);
    }
}

static const char NOT_A_FILE[] = ": a socket or a block device, not a file";

static long wait_for_fifo(struct plan *p, const struct stdio_step *s)
{
    char detail[4200];
    const char *fields[] = {"wait", "stdio", join3(detail, sizeof detail, s->path, " is a FIFO", "")};
    report(p->setup_w, fields, 3);
    long fd = SC4(SYS_openat, AT_FDCWD, s->path, s->flags, 0644);  /* until the other end opens */
    if (fd < 0) fail(p, "stdio", -fd, s->path);
    struct stat st;
    CHECK(SC2(SYS_fstat, fd, &st), "stdio", s->path);
    if (!S_ISFIFO(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
        SC1(SYS_close, fd);   /* swapped for something else meanwhile */
        fail(p, "stdio", 0, join3(detail, sizeof detail, s->path, NOT_A_FILE, ""));
    }
    return fd;
}

/* A --stdin/--stdout/--stderr file, as stdio.py's open_stdio: a regular file
 * or a device, or a FIFO once its other end is open; opened exactly once. */
static long open_stdio(struct plan *p, const struct stdio_step *s)
{
    char detail[4200];
    struct stat st;
    if (s->reading) {
        CHECK(SC4(SYS_newfstatat, AT_FDCWD, s->path, &st, AT_SYMLINK_NOFOLLOW), "stdio", s->path);
        if (S_ISFIFO(st.st_mode)) return wait_for_fifo(p, s);
    }
    long fd = SC4(SYS_openat, AT_FDCWD, s->path, s->flags | O_NONBLOCK, 0644);
    if (fd < 0) {
        if (fd != -ENXIO) fail(p, "stdio", -fd, s->path);   /* ENXIO: a FIFO with no reader yet */
        return wait_for_fifo(p, s);
    }
    CHECK(SC2(SYS_fstat, fd, &st), "stdio", s->path);
    if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode) || (S_ISFIFO(st.st_mode) && !s->reading)) {
        long fl = SC2(SYS_fcntl, fd, F_GETFL);
        if (fl < 0) fail(p, "stdio", -fl, s->path);
        CHECK(SC3(SYS_fcntl, fd, F_SETFL, fl & ~O_NONBLOCK), "stdio", s->path);
        return fd;
    }
    SC1(SYS_close, fd);
    if (S_ISFIFO(st.st_mode)) return wait_for_fifo(p, s);  /* swapped in since the check */
    if (S_ISDIR(st.st_mode)) fail(p, "stdio", EISDIR, s->path);
    fail(p, "stdio", 0, join3(detail, sizeof detail, s->path, NOT_A_FILE, ""));
}

static void redirect_stdio(struct plan *p)
{
    for (int target = 0; target < 3; target++) {
        const struct stdio_step *s = &p->stdio[target];
        if (s->kind == 0) continue;
        if (s->kind == 1 || s->kind == 3) {
            int from = s->kind == 3 ? 1 : s->fd;
            if (from != target) CHECK(SC3(SYS_dup3, from, target, 0), "stdio", "");
            else CHECK(SC3(SYS_fcntl, target, F_SETFD, 0), "stdio", "");
            continue;
        }
        long fd = open_stdio(p, s);
        if (fd != target) {
            CHECK(SC3(SYS_dup3, fd, target, 0), "stdio", "");
            SC1(SYS_close, fd);
        } else {
            CHECK(SC3(SYS_fcntl, target, F_SETFD, 0), "stdio", "");
        }
    }
}

static int child_main(void *arg)
{
    struct plan *p = arg;
    char detail[4200];

    /* signals: dispositions back to the default, then nothing blocked */
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = {0};
    for (int i = 0; i < p->nsignals; i++)
        CHECK(SC4(SYS_rt_sigaction, p->signals[i], &dfl, NULL, 8), "signals", "");
    uint64_t empty = 0;
    CHECK(SC4(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, 8), "signals", "");
    CHECK(SC0(SYS_setsid), "signals", "");   /* the terminal's Ctrl-C is rustbox's */
    if (p->host_netns >= 0)
        CHECK(SC2(SYS_setns, p->host_netns, CLONE_NEWNET), "network", "setns");
    CHECK(SC2(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING_, 0), "keyrings",
          "keyctl join session keyring");

    for (int i = 0; i < p->nmounts; i++) {
        const struct mount_step *m = &p->mounts[i];
        CHECK(SC5(SYS_mount, m->source, m->target, m->fstype, m->flags, m->data), "mount",
              join3(detail, sizeof detail, "mount ", m->target, ""));
    }
    CHECK(SC1(SYS_chdir, p->new_root), "mount", p->new_root);
    CHECK(SC2(SYS_pivot_root, ".", "."), "mount", "pivot_root");
    CHECK(SC2(SYS_umount2, ".", MNT_DETACH_), "mount", "umount .");
    CHECK(SC1(SYS_chdir, "/box"), "mount", "/box");

    /* The early limits: those before the marker (resource -1). */
    int late = 0;
    for (; late < p->nrlimits && p->rlimits[late].resource != -1; late++) {
        uint64_t both[2] = {p->rlimits[late].value, p->rlimits[late].value};
        CHECK(SC4(SYS_prlimit64, 0, p->rlimits[late].resource, both, NULL), "rlimits", "");
    }

    for (int cap = 0; cap <= p->last_cap; cap++)
        CHECK(SC2(SYS_prctl, PR_CAPBSET_DROP_, cap), "capabilities", "");
    long bits = SC1(SYS_prctl, PR_GET_SECUREBITS_);
    if (bits < 0) fail(p, "capabilities", -bits, "");
    CHECK(SC2(SYS_prctl, PR_SET_SECUREBITS_, bits | SECUREBITS_SET), "capabilities", "");

    CHECK(SC2(SYS_setgroups, 0, NULL), "setuid", "");
    CHECK(SC3(SYS_setresgid, p->gid, p->gid, p->gid), "setuid", "");
    CHECK(SC3(SYS_setresuid, p->uid, p->uid, p->uid), "setuid", "");
    empty_user_keyrings(p);

    /* (Set after the uid change, which clears it.) A FIFO below may block
     * until the wall limit: should the supervisor die meanwhile, so do we. */
    CHECK(SC2(SYS_prctl, PR_SET_PDEATHSIG_, SIGKILL), "stdio", "");
    redirect_stdio(p);
    if (*p->chdir)   /* after the redirections, as isolate: they stay relative to /box */
        CHECK(SC1(SYS_chdir, p->chdir), "chdir", p->chdir);
    CHECK(SC5(SYS_prctl, PR_SET_NO_NEW_PRIVS_, 1, 0, 0, 0), "no_new_privs", "");
    CHECK(SC3(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC_), "fds", "close_range");
    /* The late limits (open files, address space): the set-up above would
     * trip over them; after the marker. */
    for (int i = late + 1; i < p->nrlimits; i++) {
        uint64_t both[2] = {p->rlimits[i].value, p->rlimits[i].value};
        CHECK(SC4(SYS_prlimit64, 0, p->rlimits[i].resource, both, NULL), "rlimits", "");
    }
    if (p->filter.len)
        CHECK(SC3(SYS_seccomp, SECCOMP_SET_MODE_FILTER_, 0, &p->filter), "seccomp",
              "seccomp(SET_MODE_FILTER)");
    for (int i = 0; i < p->njoin; i++)
        CHECK(SC3(SYS_write, p->join_fds[i], "0", 1), "cgroup", "");

    /* CPU time counts from here (the last join): so does wall time. */
    long long now = monotonic_ns();
    char when[48];
    size_t at = put_uint(when, 0, sizeof when, (unsigned long long)(now / 1000000000LL), 1);
    when[at++] = '.';
    at = put_uint(when, at, sizeof when - 1, (unsigned long long)(now % 1000000000LL), 9);
    when[at] = '\0';
    const char *fields[] = {"start", when};
    report(p->setup_w, fields, 2);

    long err = -ENOENT;
    const char *tried = p->argv[0];
    for (int i = 0; i < p->ncandidates; i++) {
        err = SC3(SYS_execve, p->candidates[i], p->argv, p->envp);
        tried = p->candidates[i];
        if (err != -ENOENT && err != -ENOTDIR && err != -EACCES) break;
    }
    fail(p, "exec", -err, tried);
}

/* ---- the parent: the plan, the stack, the clone ---------------------- */

/* All of a plan's memory, one arena, kept until the next spawn(). */
static char *arena;
static size_t arena_size, arena_used;
static char *stack;
#define STACK_SIZE (256 * 1024)

static void *take(size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (arena_used + size > arena_size) return NULL;
    void *out = arena + arena_used;
    arena_used += size;
    return out;
}

static const char *copy_bytes(PyObject *obj)
{
    char *data; Py_ssize_t len;
    if (PyBytes_AsStringAndSize(obj, &data, &len) < 0) return NULL;
    if ((Py_ssize_t)strlen(data) != len) {
        PyErr_SetString(PyExc_ValueError, "embedded null byte");
        return NULL;
    }
    char *out = take((size_t)len + 1);
    if (!out) { PyErr_SetString(PyExc_MemoryError, "plan too large"); return NULL; }
    memcpy(out, data, (size_t)len + 1);
    return out;
}

static char **copy_list(PyObject *list, int *count)
{
    Py_ssize_t n = PyList_Size(list);
    if (n < 0) return NULL;
    char **out = take(sizeof(char *) * ((size_t)n + 1));
    if (!out) { PyErr_SetString(PyExc_MemoryError, "plan too large"); return NULL; }
    for (Py_ssize_t i = 0; i < n; i++)
        if (!(out[i] = (char *)copy_bytes(PyList_GET_ITEM(list, i)))) return NULL;
    out[n] = NULL;
    if (count) *count = (int)n;
    return out;
}

static size_t list_bytes(PyObject *list)
{
    size_t total = 0;
    Py_ssize_t n = PyList_Size(list);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        if (PyBytes_Check(item)) total += (size_t)PyBytes_GET_SIZE(item) + 32;
    }
    return total + 16 * ((size_t)n + 1);
}

/* spawn(setup_w, signals, host_netns, mounts, new_root, rlimits, last_cap,
 *       uid, gid, key_prefix, keys_wait, stdio, bpf, join_fds, argv, envp,
 *       candidates, clone_flags, chdir) -> pid
 *   mounts: [(source, target, fstype, flags, data)] (bytes; source/data may be b"")
 *   rlimits: [(resource, value)] (value -1: unlimited); the early ones, then
 *            (-1, 0), then those set after the set-up (open files, address space)
 *   stdio: 3 x (kind, fd, path bytes, flags, reading)
 */
static PyObject *spawn(PyObject *self, PyObject *args)
{
    int setup_w, host_netns, last_cap, clone_flags;
    unsigned int uid, gid;
    double keys_wait;
    PyObject *signals, *mounts, *new_root, *rlimits, *key_prefix, *stdio, *bpf, *join_fds;
    PyObject *argv, *envp, *candidates, *chdir;
    if (!PyArg_ParseTuple(args, "iO!iO!SO!iIISdO!OO!O!O!O!iS", &setup_w, &PyList_Type, &signals,
                          &host_netns, &PyList_Type, &mounts, &new_root, &PyList_Type, &rlimits,
                          &last_cap, &uid, &gid, &key_prefix, &keys_wait, &PyTuple_Type, &stdio,
                          &bpf, &PyList_Type, &join_fds, &PyList_Type, &argv, &PyList_Type, &envp,
                          &PyList_Type, &candidates, &clone_flags, &chdir))
        return NULL;
    if (PyTuple_GET_SIZE(stdio) != 3) {
        PyErr_SetString(PyExc_ValueError, "stdio: three steps");
        return NULL;
    }

    size_t need = sizeof(struct plan) + 4096 + list_bytes(argv) + list_bytes(envp) +
                  list_bytes(candidates) + 64 * (size_t)PyList_Size(join_fds) +
                  (size_t)PyBytes_GET_SIZE(new_root) + (size_t)PyBytes_GET_SIZE(key_prefix) +
                  (size_t)PyBytes_GET_SIZE(chdir);
    need += (bpf != Py_None && PyBytes_Check(bpf)) ? (size_t)PyBytes_GET_SIZE(bpf) + 16 : 0;
    for (Py_ssize_t i = 0; i < PyList_Size(mounts); i++) {
        PyObject *m = PyList_GET_ITEM(mounts, i);
        need += sizeof(struct mount_step) + 5 * 32;
        for (Py_ssize_t j = 0; PyTuple_Check(m) && j < PyTuple_GET_SIZE(m); j++)
            if (PyBytes_Check(PyTuple_GET_ITEM(m, j)))
                need += (size_t)PyBytes_GET_SIZE(PyTuple_GET_ITEM(m, j));
    }
    need += (sizeof(struct rlimit_step) + 16) * (size_t)PyList_Size(rlimits);
    for (int i = 0; i < 3; i++) {
        PyObject *s = PyTuple_GET_ITEM(stdio, i);
        if (PyTuple_Check(s) && PyTuple_GET_SIZE(s) == 5 && PyBytes_Check(PyTuple_GET_ITEM(s, 2)))
            need += (size_t)PyBytes_GET_SIZE(PyTuple_GET_ITEM(s, 2)) + 32;
    }
    if (need > arena_size) {
        PyMem_RawFree(arena);
        arena_size = 0;
        if (!(arena = PyMem_RawMalloc(need))) return PyErr_NoMemory();
        arena_size = need;
    }
    arena_used = 0;
    if (!stack) {
        void *mem = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (mem == MAP_FAILED) return PyErr_SetFromErrno(PyExc_OSError);
        stack = mem;
    }

    struct plan *p = take(sizeof *p);
    memset(p, 0, sizeof *p);
    p->setup_w = setup_w;
    p->host_netns = host_netns;
    p->last_cap = last_cap;
    p->uid = uid; p->gid = gid;
    p->keys_wait_ns = (long long)(keys_wait * 1e9);

    Py_ssize_t nsig = PyList_Size(signals);
    if (nsig > MAX_SIG) { PyErr_SetString(PyExc_ValueError, "too many signals"); return NULL; }
    for (Py_ssize_t i = 0; i < nsig; i++) {
        p->signals[i] = (int)PyLong_AsLong(PyList_GET_ITEM(signals, i));
        if (PyErr_Occurred()) return NULL;
    }
    p->nsignals = (int)nsig;

    p->nmounts = (int)PyList_Size(mounts);
    p->mounts = take(sizeof(struct mount_step) * ((size_t)p->nmounts + 1));
    for (int i = 0; i < p->nmounts; i++) {
        PyObject *source, *target, *fstype, *data;
        unsigned long flags;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(mounts, i), "SSSkS", &source, &target, &fstype,
                              &flags, &data))
            return NULL;
        struct mount_step *m = &p->mounts[i];
        if (!(m->source = copy_bytes(source)) || !(m->target = copy_bytes(target)) ||
            !(m->fstype = copy_bytes(fstype)) || !(m->data = copy_bytes(data)))
            return NULL;
        if (!*m->source) m->source = NULL;
        if (!*m->data) m->data = NULL;
        m->flags = flags;
    }
    if (!(p->new_root = copy_bytes(new_root))) return NULL;

    p->nrlimits = (int)PyList_Size(rlimits);
    p->rlimits = take(sizeof(struct rlimit_step) * ((size_t)p->nrlimits + 1));
    for (int i = 0; i < p->nrlimits; i++) {
        int resource; long long value;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(rlimits, i), "iL", &resource, &value)) return NULL;
        p->rlimits[i].resource = resource;
        p->rlimits[i].value = value < 0 ? (uint64_t)RLIM_INFINITY : (uint64_t)value;
    }
    if (!(p->key_prefix = copy_bytes(key_prefix))) return NULL;
    if (!(p->chdir = copy_bytes(chdir))) return NULL;

    for (int i = 0; i < 3; i++) {
        PyObject *path;
        struct stdio_step *s = &p->stdio[i];
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(stdio, i), "iiSii", &s->kind, &s->fd, &path,
                              &s->flags, &s->reading))
            return NULL;
        if (!(s->path = copy_bytes(path))) return NULL;
    }

    if (bpf != Py_None) {
        char *data; Py_ssize_t len;
        if (PyBytes_AsStringAndSize(bpf, &data, &len) < 0) return NULL;
        if (len == 0 || len % 8 || len / 8 > 0xffff) {
            PyErr_SetString(PyExc_ValueError, "malformed BPF program");
            return NULL;
        }
        void *copy = take((size_t)len);
        memcpy(copy, data, (size_t)len);
        p->filter.len = (unsigned short)(len / 8);
        p->filter.filter = copy;
    }

    p->njoin = (int)PyList_Size(join_fds);
    p->join_fds = take(sizeof(int) * ((size_t)p->njoin + 1));
    for (int i = 0; i < p->njoin; i++) {
        p->join_fds[i] = (int)PyLong_AsLong(PyList_GET_ITEM(join_fds, i));
        if (PyErr_Occurred()) return NULL;
    }
    if (!(p->argv = copy_list(argv, NULL)) || !(p->envp = copy_list(envp, NULL))) return NULL;
    if (!(p->candidates = (const char *const *)copy_list(candidates, &p->ncandidates)))
        return NULL;
    if (!p->argv[0]) { PyErr_SetString(PyExc_ValueError, "empty argv"); return NULL; }

    /* No handler of ours may run in the child, which shares our memory. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int pid = clone(child_main, stack + STACK_SIZE, CLONE_VM | clone_flags | SIGCHLD, p);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        errno = saved;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong(pid);
}

static PyMethodDef methods[] = {
    {"spawn", spawn, METH_VARARGS,
     "Clone (CLONE_VM, no copy of the interpreter) a child that does the run's set-up "
     "steps and execs; returns its pid. See rustbox/running/child.py."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_child",
    "The child's steps between clone and execve, in C (see _child.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__child(void) { return PyModule_Create(&module); }
