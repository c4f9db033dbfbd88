/* avx2_dispatch.c: an LD_PRELOAD library that hides AVX-512, VNNI (AVX512-VNNI, AVX-VNNI) and AMX from CPUID, so
 * that ONNX Runtime's MLAS (and NumPy, oneDNN) pick the kernels they would pick on an AVX2 CPU without VNNI.
 *
 * Why: issue 13's CPU INT8 target is stated for an AVX2 CPU without VNNI; this project's current machine has
 * AVX-512 VNNI and AMX, so its INT8 speed-up says nothing about that CPU. Linux's CPUID faulting
 * (arch_prctl ARCH_SET_CPUID, 0; needs the cpuid_fault CPU flag) makes every CPUID instruction raise SIGSEGV; the
 * handler runs the real CPUID with faulting briefly off, clears the feature bits below, and steps over the
 * instruction. Only dispatch changes: the same core then runs AVX2 code, with its own port layout and caches, so
 * ratios measured this way are a proxy for an AVX2-only CPU, not a measurement of one.
 *
 * Build and use: benchmarks/avx2_dispatch.sh COMMAND... (compiles this file to a temporary folder with cc).
 * Set AVX2_DISPATCH_VERBOSE=1 to print each intercepted CPUID leaf on stderr.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static int verbose;

static void real_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* Bit numbers from the Intel SDM, CPUID leaf 07H. */
static void mask(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    if (leaf != 7) return;
    if (sub == 0) {
        /* EBX: AVX512F 16, DQ 17, IFMA 21, PF 26, ER 27, CD 28, BW 30, VL 31 */
        r[1] &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) |
                  (1u << 31));
        /* ECX: VBMI 1, VBMI2 6, VNNI 11, BITALG 12, VPOPCNTDQ 14 */
        r[2] &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        /* EDX: 4VNNIW 2, 4FMAPS 3, VP2INTERSECT 8, AMX-BF16 22, AVX512-FP16 23, AMX-TILE 24, AMX-INT8 25 */
        r[3] &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
    } else if (sub == 1) {
        /* EAX: AVX-VNNI 4, AVX512-BF16 5, AMX-FP16 21, AVX-IFMA 23; EDX: AVX-VNNI-INT8 4, AVX-NE-CONVERT 5,
         * AVX-VNNI-INT16 10, AVX10 19 */
        r[0] &= ~((1u << 4) | (1u << 5) | (1u << 21) | (1u << 23));
        r[3] &= ~((1u << 4) | (1u << 5) | (1u << 10) | (1u << 19));
    }
}

static void on_segv(int sig, siginfo_t *info, void *ctx) {
    ucontext_t *uc = (ucontext_t *)ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)g[REG_RIP];
    (void)info;
    if (ip[0] != 0x0f || ip[1] != 0xa2) {   /* not CPUID: a real crash, let it happen */
        signal(sig, SIG_DFL);
        return;
    }
    uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX], r[4];
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
    real_cpuid(leaf, sub, r);
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
    mask(leaf, sub, r);
    if (verbose) {
        char line[96];
        int n = snprintf(line, sizeof line, "avx2_dispatch: cpuid %#x.%u\n", leaf, sub);
        if (n > 0) (void)!write(2, line, (size_t)n);
    }
    g[REG_RAX] = r[0];
    g[REG_RBX] = r[1];
    g[REG_RCX] = r[2];
    g[REG_RDX] = r[3];
    g[REG_RIP] += 2;
}

__attribute__((constructor)) static void avx2_dispatch_on(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    verbose = getenv("AVX2_DISPATCH_VERBOSE") != NULL;
    if (sigaction(SIGSEGV, &sa, NULL) != 0 || syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
        perror("avx2_dispatch: CPUID faulting is not available on this machine (needs the cpuid_fault flag)");
        _exit(2);
    }
}
