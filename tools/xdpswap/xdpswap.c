// xdpswap -- reproducer for "Oops: int3 at bpf_dispatcher_xdp_func" when an XDP program is
// swapped under traffic. Every XDP program change on a device re-points the kernel's XDP
// dispatcher (bpf_dispatcher_change_prog -> x86 text poke with the int3 protocol).
//
//   xdpswap swap -i IFNAME [-m link|nl|detach] [-n ITERS] [-t SECS] [-H CPU] [-S CPU] [-o OBJ]
//       loads xdpswap.bpf.o, attaches xdp_a to IFNAME (native mode) and swaps xdp_a <-> xdp_b
//       ITERS times or for SECS seconds, whichever ends first:
//         link    bpf_link_create(BPF_XDP) once, then bpf_link_update(new, old_prog_fd)
//         nl      netlink: bpf_xdp_attach(new, XDP_FLAGS_REPLACE, old_prog_fd)
//         detach  netlink: bpf_xdp_detach + bpf_xdp_attach (the program is briefly absent)
//       -H CPU: a thread pinned to CPU runs BPF_PROG_TEST_RUN on xdp_a/xdp_b in a loop (each
//       run goes through bpf_dispatcher_xdp_func too) while the swaps go on; -S CPU pins the
//       swapping thread. Prints one line per 50 swaps on stdout and a summary at the end.
//   xdpswap blast -d IPV4 [-p PORT] [-t SECS] [-n COUNT] [-C CPU]
//       sends 18-byte UDP datagrams to IPV4:PORT as fast as it can (bounded by COUNT and SECS).
//
// Exit: 0 done, 1 error. Every loop is bounded; the attachment is removed at exit (also on
// SIGINT/SIGTERM), the link is never pinned.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_sig;
static atomic_int stop_hammer;
static atomic_ullong hammer_runs;

static void on_sig(int s)
{
    (void)s;
    stop_sig = 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    if (sched_setaffinity(0, sizeof(s), &s))
        fprintf(stderr, "xdpswap: cannot pin to cpu %d: %s\n", cpu, strerror(errno));
}

struct hammer_arg {
    int cpu, fd[2];
};

static void *hammer(void *p)
{
    struct hammer_arg *a = p;
    unsigned char pkt[64] = {0};
    memset(pkt, 0xff, 6); // broadcast dst
    pkt[12] = 0x08;       // ethertype IPv4 (content irrelevant)
    pin(a->cpu);
    for (unsigned i = 0; !atomic_load(&stop_hammer); i++) {
        LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
                    .repeat = 200);
        if (bpf_prog_test_run_opts(a->fd[i & 1], &o)) {
            fprintf(stderr, "xdpswap: test_run: %s\n", strerror(errno));
            break;
        }
        atomic_fetch_add(&hammer_runs, 200);
    }
    return NULL;
}

static int cmd_swap(int argc, char **argv)
{
    const char *ifname = NULL, *method = "link", *obj_path = NULL;
    long iters = 500;
    double secs = 120;
    int hcpu = -1, scpu = -1, c;
    while ((c = getopt(argc, argv, "i:m:n:t:H:S:o:")) != -1) {
        switch (c) {
        case 'i':
            ifname = optarg;
            break;
        case 'm':
            method = optarg;
            break;
        case 'n':
            iters = atol(optarg);
            break;
        case 't':
            secs = atof(optarg);
            break;
        case 'H':
            hcpu = atoi(optarg);
            break;
        case 'S':
            scpu = atoi(optarg);
            break;
        case 'o':
            obj_path = optarg;
            break;
        default:
            return 1;
        }
    }
    int m = !strcmp(method, "link")     ? 0
            : !strcmp(method, "nl")     ? 1
            : !strcmp(method, "detach") ? 2
                                        : -1;
    if (!ifname || m < 0) {
        fprintf(stderr, "usage: xdpswap swap -i IFNAME [-m link|nl|detach] [-n N] [-t S] [-H CPU] "
                        "[-S CPU] [-o OBJ]\n");
        return 1;
    }
    int ifindex = if_nametoindex(ifname);
    if (!ifindex) {
        fprintf(stderr, "xdpswap: no interface %s\n", ifname);
        return 1;
    }
    char def_obj[4096];
    if (!obj_path) { // next to the binary
        ssize_t n = readlink("/proc/self/exe", def_obj, sizeof(def_obj) - 16);
        if (n < 0)
            return 1;
        def_obj[n] = 0;
        char *slash = strrchr(def_obj, '/');
        strcpy(slash ? slash + 1 : def_obj, "xdpswap.bpf.o");
        obj_path = def_obj;
    }
    struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
    if (!obj || libbpf_get_error(obj) || bpf_object__load(obj)) {
        fprintf(stderr, "xdpswap: cannot load %s\n", obj_path);
        return 1;
    }
    int fd[2] = {
        bpf_program__fd(bpf_object__find_program_by_name(obj, "xdp_a")),
        bpf_program__fd(bpf_object__find_program_by_name(obj, "xdp_b")),
    };
    int map_fd = bpf_object__find_map_fd_by_name(obj, "hits");
    const __u32 mode = XDP_FLAGS_DRV_MODE;
    int link = -1, err = 0, rc = 1;
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    pin(scpu);

    if (m == 0) {
        LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = mode);
        link = bpf_link_create(fd[0], ifindex, BPF_XDP, &lo);
        if (link < 0) {
            fprintf(stderr, "xdpswap: bpf_link_create: %s\n", strerror(errno));
            goto out;
        }
    } else if (bpf_xdp_attach(ifindex, fd[0], mode | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL)) {
        fprintf(stderr, "xdpswap: bpf_xdp_attach: %s\n", strerror(errno));
        goto out;
    }

    pthread_t th;
    struct hammer_arg ha = {hcpu, {fd[0], fd[1]}};
    int hammering = hcpu >= 0 && !pthread_create(&th, NULL, hammer, &ha);

    double t0 = now(), t_end = t0 + secs;
    long i;
    int cur = 0;
    printf("start method=%s if=%s iters=%ld secs=%.0f hammer_cpu=%d swap_cpu=%d\n", method, ifname,
           iters, secs, hcpu, scpu);
    fflush(stdout);
    for (i = 0; i < iters && !stop_sig && now() < t_end; i++) {
        int nxt = cur ^ 1;
        if (m == 0) {
            LIBBPF_OPTS(bpf_link_update_opts, uo, .flags = BPF_F_REPLACE, .old_prog_fd = fd[cur]);
            err = bpf_link_update(link, fd[nxt], &uo);
        } else if (m == 1) {
            LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = fd[cur]);
            err = bpf_xdp_attach(ifindex, fd[nxt], mode | XDP_FLAGS_REPLACE, &ao);
        } else {
            err = bpf_xdp_detach(ifindex, mode, NULL);
            if (!err)
                err = bpf_xdp_attach(ifindex, fd[nxt], mode | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
        }
        if (err) {
            fprintf(stderr, "xdpswap: swap %ld: %s\n", i + 1, strerror(-err));
            break;
        }
        cur = nxt;
        if ((i + 1) % 50 == 0) {
            printf("swaps %ld t=%.1fs\n", i + 1, now() - t0);
            fflush(stdout);
        }
    }
    double dt = now() - t0;
    atomic_store(&stop_hammer, 1);
    if (hammering)
        pthread_join(th, NULL);

    int ncpu = libbpf_num_possible_cpus();
    if (ncpu > 1024)
        ncpu = 1024;
    unsigned long long tot[2] = {0, 0};
    static __u64 vals[1024];
    for (__u32 k = 0; k < 2; k++)
        if (!bpf_map_lookup_elem(map_fd, &k, vals))
            for (int c2 = 0; c2 < ncpu; c2++)
                tot[k] += vals[c2];
    printf("done method=%s swaps=%ld secs=%.1f swaps_per_s=%.1f hits_a=%llu hits_b=%llu "
           "test_runs=%llu%s\n",
           method, i, dt, i / (dt > 0 ? dt : 1), tot[0], tot[1],
           (unsigned long long)atomic_load(&hammer_runs), err ? " (stopped on error)" : "");
    fflush(stdout);
    rc = err ? 1 : 0;
out:
    if (link >= 0)
        close(link); // not pinned: the last reference, detaches
    else
        bpf_xdp_detach(ifindex, mode, NULL);
    bpf_object__close(obj);
    return rc;
}

static int cmd_blast(int argc, char **argv)
{
    const char *dst = NULL;
    int port = 9, cpu = -1, c;
    long count = 10000000;
    double secs = 60;
    while ((c = getopt(argc, argv, "d:p:t:n:C:")) != -1) {
        switch (c) {
        case 'd':
            dst = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 't':
            secs = atof(optarg);
            break;
        case 'n':
            count = atol(optarg);
            break;
        case 'C':
            cpu = atoi(optarg);
            break;
        default:
            return 1;
        }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (!dst || inet_pton(AF_INET, dst, &sa.sin_addr) != 1) {
        fprintf(stderr, "usage: xdpswap blast -d IPV4 [-p PORT] [-t SECS] [-n COUNT] [-C CPU]\n");
        return 1;
    }
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    pin(cpu);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0)
        return 1;
    char buf[18] = "xdpswap-blast";
    double t0 = now(), t_end = t0 + secs;
    long i, fails = 0;
    for (i = 0; i < count && !stop_sig; i++) {
        if ((i & 255) == 0 && now() >= t_end)
            break;
        if (sendto(s, buf, sizeof(buf), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            fails++;
    }
    printf("blast sent=%ld failed=%ld secs=%.1f\n", i - fails, fails, now() - t0);
    close(s);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "swap"))
        return cmd_swap(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "blast"))
        return cmd_blast(argc - 1, argv + 1);
    fprintf(stderr, "usage: xdpswap swap|blast ... (see the head of xdpswap.c)\n");
    return 1;
}
