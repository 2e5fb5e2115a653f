/*
 * helper_loop: real loop devices and mounts for node tests, and the cleanup
 * that removes every one of them even when a test fails or the run is
 * interrupted.
 *
 * Loop devices are attached with LO_FLAGS_AUTOCLEAR and an fd held open for
 * the device's lifetime: whatever happens to the test process, once that fd
 * closes and nothing is mounted from the device, the kernel detaches it. Every
 * mount point a test uses is registered first; loop_cleanup_all() (run by
 * teardowns, at exit, and from SIGINT/SIGTERM/SIGHUP/SIGQUIT handlers using
 * only system calls) unmounts them (lazily when busy) and detaches the loops.
 * Nothing here is used by production code.
 */
#ifndef EBS_TESTS_NODE_HELPER_LOOP_H
#define EBS_TESTS_NODE_HELPER_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loopdev {
	int fd;              /* held open: keeps the autoclear device alive; -1 when detached */
	char path[64];       /* "/dev/loop3" */
	char backing[4096];  /* the sparse file behind it */
};

/* Whether loop devices and mounts can be used here: root and /dev/loop-control.
 * On false, why (static string) tells the skip message. */
bool loop_supported(const char **why);

/* Creates a sparse file of size bytes at backing and attaches a loop device
 * to it. Returns 0, -1 on failure (message printed). */
int loop_create(struct loopdev *ld, const char *backing, uint64_t size);

/* Grows the backing file to size and tells the loop driver (losetup -c). */
int loop_grow(struct loopdev *ld, uint64_t size);

/* Detaches (via autoclear once unmounted) and closes. Idempotent. */
void loop_destroy(struct loopdev *ld);

/* Registers a mount point to be unmounted by loop_cleanup_all(). */
void loop_register_mount(const char *target);

/* Unmounts every registered mount point (topmost first, repeatedly, lazily
 * when busy) and detaches every loop device still attached. Async-signal-safe. */
void loop_cleanup_all(void);

/* Installs the atexit and signal-path cleanup (once). */
void loop_install_cleanup(void);

/* Makes a temporary directory under /tmp; path receives it. */
int loop_tmpdir(char *path, size_t n);

/* A fixture's start: when loop devices can be used here, installs the cleanup,
 * makes the fixture's temp directory (dir) and returns 1; otherwise sets *why
 * and returns 0 (the tests then skip). -1 when the directory cannot be made. */
int loop_fixture_begin(const char **why, char *dir, size_t n);

/* Finds name in path_list (a PATH-style list; NULL: $PATH, or the usual
 * sbin/bin directories) and copies its full path into out when out is not
 * NULL. Returns whether it is there and executable. */
bool loop_find_tool(const char *name, const char *path_list, char *out, size_t n);

/* Removes dir recursively, but only if nothing is mounted below it. */
void loop_rmtree(const char *dir);

/* FNV-1a of the whole device contents read through path; 0 on read error. */
uint64_t loop_hash_device(const char *path);

/* Whether anything under prefix appears in /proc/self/mountinfo. */
bool loop_anything_mounted_under(const char *prefix);

/* Runs argv quietly; returns its exit code or -1. */
int loop_run(const char *const argv[]);

#endif
