/* Programs that try to keep their run from ending (issue 9, class 1).
 *
 * usage: runend NAME   (see the table at the bottom)
 *
 * Each one leaves the supervisor something that a naive wait blocks on:
 * a child it never asked for (clone(CLONE_PARENT)), a zombie only a
 * tracer can see, a tracer that burns CPU, stopped and uninterruptible
 * processes. The sandbox must end every one of them within the wall
 * limit plus a second, whatever the seccomp policy.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long clone_parent(void)
{
    /* The raw call: the child's parent becomes our parent (the supervisor). */
    return syscall(SYS_clone, (long)(CLONE_PARENT | SIGCHLD), 0L, 0L, 0L, 0L);
}

static void spin(void)
{
    for (volatile unsigned long i = 0;; i++)
        ;
}

static void sleep_for_ever(void)
{
    for (;;)
        pause();
}

/* A sibling that exits at once: a zombie of the supervisor that keeps the
 * PID namespace's init from finishing its death. */
static int r_clone_parent(void)
{
    long pid = clone_parent();
    if (pid < 0) {
        perror("clone(CLONE_PARENT)");
        return 3;
    }
    if (pid == 0)
        _exit(0);
    usleep(100 * 1000);
    return 0;
}

/* A sibling that outlives the program (and sleeps on). */
static int r_clone_parent_sleeper(void)
{
    long pid = clone_parent();
    if (pid < 0)
        return 3;
    if (pid == 0)
        sleep_for_ever();
    return 0;
}

/* Siblings that make new siblings and die, as fast as the pids limit lets
 * them: the supervisor's children come and go for the whole run. */
static int r_clone_parent_chain(void)
{
    for (;;) {
        long pid = clone_parent();
        if (pid > 0)
            _exit(0);       /* the new sibling carries on */
        if (pid < 0)
            usleep(1000);   /* at the pids limit: the zombies must be reaped */
    }
}

/* Siblings that end at once, one after another, while the program lives:
 * with --processes 2 each clone needs the last sibling's zombie reaped
 * first (a zombie holds its pid of pids.max until then). Exits 0 once it
 * made them all, 4 if a clone kept failing for 5 s. */
static int r_clone_parent_many(void)
{
    int made = 0, tries = 0;
    while (made < 50) {
        long pid = clone_parent();
        if (pid == 0)
            _exit(0);
        if (pid > 0) {
            made++;
            continue;
        }
        if (++tries > 5000) {
            fprintf(stderr, "made %d siblings, then no more for 5 s\n", made);
            return 4;
        }
        usleep(1000);
    }
    printf("made %d siblings\n", made);
    return 0;
}

/* The other clone flags no solution needs: each child exits at once. */
static int clone_with(long flags)
{
    long pid = syscall(SYS_clone, flags | SIGCHLD, 0L, 0L, 0L, 0L);
    if (pid == 0)
        _exit(0);
    if (pid < 0) {
        perror("clone");
        return 3;
    }
    waitpid((pid_t)pid, NULL, 0);
    return 0;
}

static int r_clone_ptrace(void)
{
    return clone_with(CLONE_PTRACE);
}

static int r_clone_untraced(void)
{
    return clone_with(CLONE_UNTRACED);
}

/* A child that attaches to the program with ptrace; returns in the child
 * with the program's pid once attached, in the program after that. */
static pid_t traced_by_child(void)
{
    int ready[2];
    if (pipe(ready) != 0)
        return -1;
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        close(ready[0]);
        if (ptrace(PTRACE_SEIZE, parent, 0L, 0L) != 0) {
            perror("PTRACE_SEIZE");
            _exit(3);
        }
        write(ready[1], "x", 1);
        close(ready[1]);
        return parent;
    }
    /* Where Yama asks for it, let the child trace us. */
    prctl(PR_SET_PTRACER, (unsigned long)child, 0L, 0L, 0L);
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1) {
        fprintf(stderr, "the tracer did not attach\n");
        exit(3);
    }
    close(ready[0]);
    return 0;
}

/* The program exits; its tracer never reaps it and sleeps: the zombie is
 * visible to the tracer alone. */
static int r_ptrace_zombie(void)
{
    pid_t traced = traced_by_child();
    if (traced > 0)
        sleep_for_ever();
    return traced < 0 ? 3 : 0;
}

/* The same, with a tracer that burns CPU. */
static int r_ptrace_zombie_spin(void)
{
    pid_t traced = traced_by_child();
    if (traced > 0)
        spin();
    return traced < 0 ? 3 : 0;
}

/* The tracer stops the program for good and burns CPU: the run is over
 * its time limit, and must end there. */
static int r_ptrace_hold_spin(void)
{
    pid_t traced = traced_by_child();
    if (traced > 0) {
        ptrace(PTRACE_INTERRUPT, traced, 0L, 0L);
        spin();
    }
    if (traced < 0)
        return 3;
    sleep_for_ever();
    return 0;
}

/* A CLONE_PARENT sibling is the tracer: both are the supervisor's children. */
static int r_sibling_tracer(void)
{
    int ready[2];
    if (pipe(ready) != 0)
        return 3;
    pid_t program = getpid();
    long pid = clone_parent();
    if (pid < 0)
        return 3;
    if (pid == 0) {
        close(ready[0]);
        if (ptrace(PTRACE_SEIZE, program, 0L, 0L) != 0)
            _exit(3);
        write(ready[1], "x", 1);
        sleep_for_ever();
    }
    prctl(PR_SET_PTRACER, (unsigned long)pid, 0L, 0L, 0L);
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1)
        return 3;
    return 0;
}

/* The program stops itself: no CPU, no exit, only the wall limit ends it. */
static int r_stop_self(void)
{
    raise(SIGSTOP);
    return 0;
}

/* A stopped child outlives the program: it must be killed all the same. */
static int r_stopped_child(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return 3;
    if (pid == 0) {
        raise(SIGSTOP);
        sleep_for_ever();
    }
    usleep(100 * 1000);
    return 0;
}

/* vfork whose child never execs: the program waits in uninterruptible
 * (killable) sleep, state D, until the wall limit. */
static int r_vfork_hang(void)
{
    pid_t pid = vfork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    return pid < 0 ? 3 : 0;
}

/* Closes its standard streams but leaves a daemon holding a copy of
 * stdout: whoever reads the run's output waits for that daemon's end. */
static int r_close_stdio(void)
{
    int held = dup(1);
    close(0);
    close(1);
    close(2);
    if (fork() == 0) {
        setsid();
        (void)held;
        sleep_for_ever();
    }
    return 0;
}

static const struct {
    const char *name;
    int (*run)(void);
} programs[] = {
    {"clone_parent", r_clone_parent},
    {"clone_parent_sleeper", r_clone_parent_sleeper},
    {"clone_parent_chain", r_clone_parent_chain},
    {"clone_parent_many", r_clone_parent_many},
    {"clone_ptrace", r_clone_ptrace},
    {"clone_untraced", r_clone_untraced},
    {"ptrace_zombie", r_ptrace_zombie},
    {"ptrace_zombie_spin", r_ptrace_zombie_spin},
    {"ptrace_hold_spin", r_ptrace_hold_spin},
    {"sibling_tracer", r_sibling_tracer},
    {"stop_self", r_stop_self},
    {"stopped_child", r_stopped_child},
    {"vfork_hang", r_vfork_hang},
    {"close_stdio", r_close_stdio},
};

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++)
        if (strcmp(argv[1], programs[i].name) == 0)
            return programs[i].run();
    fprintf(stderr, "unknown: %s\n", argv[1]);
    return 2;
}
