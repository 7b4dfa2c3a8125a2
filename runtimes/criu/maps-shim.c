/*
 * lamina's shim for criu 3.17 (Debian 12's) on Linux 6.13 and later, loaded
 * into criu with LD_PRELOAD by lamina's SnapStart for Java (exec/snapstart.cpp).
 *
 * Linux 6.13 split the [vvar] mapping in two: [vvar] then [vvar_vclock], both
 * just below [vdso]. criu 3.17 knows only [vvar] and refuses to start when
 * [vvar] does not end where [vdso] begins ("vdso: Unexpected rt vDSO area
 * bounds"); criu 4.1 treats the two as one area. This shim does the same for
 * the criu it is loaded into: every /proc/<pid>/maps or smaps that criu opens
 * is read through a copy in which a [vvar_vclock] entry that follows a [vvar]
 * entry is folded into it (the [vvar] entry ends where [vvar_vclock] ended,
 * and the [vvar_vclock] entry is dropped). criu then never dumps those pages
 * (they are the kernel's), and its restorer moves the whole area, which Linux
 * 6.17 and later allow across the two mappings. Files other than maps and
 * smaps, and kernels without [vvar_vclock], are left as they are.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

typedef int (*openat_fn)(int, const char*, int, ...);

static int is_maps(const char* path) {
    size_t n = strlen(path);
    return (n >= 5 && strcmp(path + n - 5, "/maps") == 0) ||
           (n >= 6 && strcmp(path + n - 6, "/smaps") == 0) || strcmp(path, "maps") == 0 ||
           strcmp(path, "smaps") == 0;
}

/* "start-end perms ..." : the end field's offset and length in a header line */
static int header(const char* line, size_t len, size_t* end_at, size_t* end_len) {
    const char* dash = memchr(line, '-', len);
    if (!dash || dash == line) return 0;
    for (const char* p = line; p < dash; ++p)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    const char* space = memchr(dash, ' ', len - (size_t)(dash - line));
    if (!space) return 0;
    *end_at = (size_t)(dash + 1 - line);
    *end_len = (size_t)(space - dash - 1);
    return 1;
}

static int ends_with_name(const char* line, size_t len, const char* name) {
    size_t n = strlen(name);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' ')) --len;
    return len >= n && memcmp(line + len - n, name, n) == 0;
}

/* The folded copy of an open maps/smaps file as a memfd at offset 0; the
 * original descriptor when anything fails. */
static int folded(int fd) {
    size_t cap = 1 << 16, n = 0;
    char* in = malloc(cap);
    if (!in) return fd;
    for (;;) {
        if (n == cap) {
            char* bigger = realloc(in, cap * 2);
            if (!bigger) {
                free(in);
                return fd;
            }
            in = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, in + n, cap - n);
        if (r < 0) {
            free(in);
            lseek(fd, 0, SEEK_SET);
            return fd;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    char* out = malloc(n + 1);
    if (!out) {
        free(in);
        return fd;
    }
    size_t o = 0, vvar_end_at = 0, vvar_end_len = 0;
    int after_vvar = 0, skipping = 0;
    for (size_t i = 0; i < n;) {
        const char* line = in + i;
        const char* nl = memchr(line, '\n', n - i);
        size_t len = nl ? (size_t)(nl - line) + 1 : n - i;
        size_t end_at, end_len;
        if (header(line, len, &end_at, &end_len)) {
            skipping = 0;
            if (ends_with_name(line, len, "[vvar_vclock]") && after_vvar &&
                end_len == vvar_end_len) {
                memcpy(out + vvar_end_at, line + end_at, end_len); /* [vvar] now ends here */
                skipping = 1;
                after_vvar = 0;
            } else if (ends_with_name(line, len, "[vvar]")) {
                after_vvar = 1;
                vvar_end_at = o + end_at;
                vvar_end_len = end_len;
            } else {
                after_vvar = 0;
            }
        }
        if (!skipping) {
            memcpy(out + o, line, len);
            o += len;
        }
        i += len;
    }
    free(in);
    int m = memfd_create("lamina-maps", MFD_CLOEXEC);
    if (m < 0 || write(m, out, o) != (ssize_t)o || lseek(m, 0, SEEK_SET) != 0) {
        if (m >= 0) close(m);
        free(out);
        lseek(fd, 0, SEEK_SET);
        return fd;
    }
    free(out);
    close(fd);
    return m;
}

/* The mode argument of an open that creates (only then is it passed). */
#define MODE_ARG(flags, mode)                  \
    do {                                       \
        if ((flags) & (O_CREAT | O_TMPFILE)) { \
            va_list ap;                        \
            va_start(ap, flags);               \
            (mode) = va_arg(ap, mode_t);       \
            va_end(ap);                        \
        }                                      \
    } while (0)

int openat(int dirfd, const char* path, int flags, ...) {
    static openat_fn real;
    if (!real) real = (openat_fn)dlsym(RTLD_NEXT, "openat");
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    int fd = real(dirfd, path, flags, mode);
    if (fd >= 0 && (flags & O_ACCMODE) == O_RDONLY && is_maps(path)) return folded(fd);
    return fd;
}

int open(const char* path, int flags, ...) {
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return openat(AT_FDCWD, path, flags, mode);
}

int open64(const char* path, int flags, ...) __attribute__((alias("open")));
int openat64(int dirfd, const char* path, int flags, ...) __attribute__((alias("openat")));
