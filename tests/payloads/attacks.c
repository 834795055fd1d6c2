/* Hostile programs for the sandbox tests, one per subcommand.
 * Each prints what happened so the test can assert on it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int report(const char *what, long rc) {
    if (rc < 0) printf("%s: refused errno=%d (%s)\n", what, errno, strerror(errno));
    else printf("%s: ALLOWED rc=%ld\n", what, rc);
    return rc < 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *cmd = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(cmd, "ptrace")) return report("ptrace", ptrace(PTRACE_ATTACH, 1, 0, 0));
    if (!strcmp(cmd, "mount")) return report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
    if (!strcmp(cmd, "unshare")) return report("unshare", unshare(CLONE_NEWUSER));
    if (!strcmp(cmd, "setns")) {
        int fd = open("/proc/1/ns/net", O_RDONLY);
        return report("setns", setns(fd < 0 ? 0 : fd, 0));
    }
    if (!strcmp(cmd, "bpf")) return report("bpf", syscall(SYS_bpf, 0, NULL, 0));
    if (!strcmp(cmd, "io_uring_setup")) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        return report("io_uring_setup", syscall(SYS_io_uring_setup, 8, &p));
    }
    if (!strcmp(cmd, "inet_socket")) return report("socket(AF_INET)", socket(AF_INET, SOCK_STREAM, 0));
    if (!strcmp(cmd, "clone_newnet")) {
        long rc = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
        if (rc == 0) _exit(0);
        return report("clone(CLONE_NEWNET)", rc);
    }
    if (!strcmp(cmd, "int80")) {
        /* getpid through the 32-bit ABI: must be killed by the arch check. */
        long rc;
        __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20) : "memory");
        printf("int80: ALLOWED rc=%ld\n", rc);
        return 1;
    }
    if (!strcmp(cmd, "forkbomb")) {
        for (;;) {
            pid_t p = fork();
            /* Refused by the pids limit: back off. Every refused fork still costs the
               kernel memory freed only after an RCU grace period; retrying at once
               would make the memory limit, not the pids limit, end the run. */
            if (p < 0) { usleep(10000); continue; }
        }
    }
    if (!strcmp(cmd, "membomb")) {
        for (size_t total = 0;; total += 1 << 20) {
            char *p = malloc(1 << 20);
            if (!p) { printf("malloc failed at %zu MiB\n", total >> 20); return 3; }
            memset(p, 1, 1 << 20);
        }
    }
    if (!strcmp(cmd, "spin")) { for (volatile unsigned long i = 0;; i++) {} }
    if (!strcmp(cmd, "flood")) {
        static char buf[65536];
        memset(buf, 'x', sizeof buf);
        for (;;) if (write(1, buf, sizeof buf) < 0) return 4;
    }
    if (!strcmp(cmd, "fill") && argc > 2) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) { printf("open: errno=%d\n", errno); return 5; }
        static char buf[1 << 16];
        memset(buf, 'f', sizeof buf);
        unsigned long long written = 0;
        for (;;) {
            ssize_t n = write(fd, buf, sizeof buf);
            if (n <= 0) { printf("fill stopped after %llu bytes: errno=%d\n", written, errno); return 0; }
            written += n;
        }
    }
    if (!strcmp(cmd, "kill-all")) return report("kill(-1, SIGKILL)", kill(-1, SIGKILL));
    if (!strcmp(cmd, "kill") && argc > 2) return report("kill(pid)", kill(atoi(argv[2]), SIGKILL));
    if (!strcmp(cmd, "orphan") && argc > 2) {
        /* Double fork + setsid: the grandchild outlives its parents. */
        pid_t p = fork();
        if (p == 0) {
            setsid();
            if (fork() == 0) {
                char *args[] = {"/bin/sleep", "1000", argv[2], NULL};
                execv("/bin/sleep", args);
                _exit(1);
            }
            _exit(0);
        }
        waitpid(p, NULL, 0);
        printf("orphan started\n");
        return 0;
    }
    if (!strcmp(cmd, "memfd-exec")) {
        int src = open("/bin/true", O_RDONLY);
        int mfd = memfd_create("payload", 0);
        char buf[65536];
        ssize_t n;
        while ((n = read(src, buf, sizeof buf)) > 0) write(mfd, buf, n);
        char *args[] = {"true", NULL}, *env[] = {NULL};
        fexecve(mfd, args, env);
        printf("fexecve(memfd): refused errno=%d\n", errno);
        return 0;
    }
    if (!strcmp(cmd, "chmod") && argc > 2) return report("chmod", chmod(argv[2], 0777));
    fprintf(stderr, "unknown subcommand %s\n", cmd);
    return 2;
}
