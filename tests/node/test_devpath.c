/*
 * Tests for node/devpath: volume id validation and serial normalisation
 * (pure), discovery through a temporary by-id directory (both link variants,
 * the devicePath hint, not found), and identity proof against a fake sysfs
 * tree (matching serial, padded serial, another volume's serial, missing
 * serial) and against by-id links for non-NVMe devices. Links point at the
 * /dev/loopN nodes, which exist as block nodes whether or not anything is
 * attached; tests needing them skip when they are absent.
 */
#include "node/devpath.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

struct tree {
	char root[128];
	char by_id[192];
	char sys[192];
	struct devpath_opts opts;
};

static void run(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	struct tree *t = calloc(1, sizeof *t);
	snprintf(t->root, sizeof t->root, "/tmp/ebs-devpath-test.XXXXXX");
	if (mkdtemp(t->root) == NULL)
		return -1;
	snprintf(t->by_id, sizeof t->by_id, "%s/by-id", t->root);
	snprintf(t->sys, sizeof t->sys, "%s/sys", t->root);
	mkdir(t->by_id, 0755);
	mkdir(t->sys, 0755);
	t->opts.by_id_dir = t->by_id;
	t->opts.sysfs_root = t->sys;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tree *t = *state;
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", t->root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t->root);
	free(t);
	return 0;
}

static bool is_block(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISBLK(sb.st_mode);
}

static void need_loop_nodes(void)
{
	if (!is_block("/dev/loop0") || !is_block("/dev/loop1")) {
		fprintf(stderr, "SKIP: /dev/loop0 and /dev/loop1 block nodes are needed as link targets\n");
		skip();
	}
}

static void link_to(struct tree *t, const char *name, const char *target)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", t->by_id, name);
	assert_int_equal(symlink(target, path), 0);
}

static void fake_serial(struct tree *t, const char *ns, const char *serial)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/block/%s/device' && printf '%%s' '%s' > '%s/block/%s/device/serial'",
		 t->sys, ns, serial, t->sys, ns);
	run(cmd);
}

static void test_volume_id_valid(void **state)
{
	(void)state;
	assert_true(devpath_volume_id_valid("vol-0123456789abcdef0"));
	assert_true(devpath_volume_id_valid("vol-01234567"));
	assert_false(devpath_volume_id_valid("vol-0123456789abcdef"));   /* 16 */
	assert_false(devpath_volume_id_valid("vol-0123456789ABCDEF0"));  /* upper case */
	assert_false(devpath_volume_id_valid("vol0123456789abcdef0"));
	assert_false(devpath_volume_id_valid("vol-0123456g"));
	assert_false(devpath_volume_id_valid("vol-../../etc"));
	assert_false(devpath_volume_id_valid(""));
	assert_false(devpath_volume_id_valid(NULL));
}

static void test_serial_normalisation(void **state)
{
	(void)state;
	char s[32];
	struct status st = STATUS_INIT;
	assert_int_equal(devpath_serial_of_volume("vol-0123456789abcdef0", s, sizeof s, &st), 0);
	assert_string_equal(s, "vol0123456789abcdef0");
	assert_int_equal(devpath_serial_of_volume("bogus", s, sizeof s, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(devpath_serial_of_volume("vol-0123456789abcdef0", s, 8, &st), -1);

	assert_true(devpath_serial_matches("vol0123456789abcdef0", "vol-0123456789abcdef0"));
	assert_true(devpath_serial_matches("  vol0123456789abcdef0   \n", "vol-0123456789abcdef0"));
	assert_false(devpath_serial_matches("vol0123456789abcdef1", "vol-0123456789abcdef0"));
	assert_false(devpath_serial_matches("vol0123456789abcdef0", "vol-0123456789abcdef"));
	assert_false(devpath_serial_matches("vol0123456789abcdef0x", "vol-0123456789abcdef0"));
	assert_false(devpath_serial_matches("vol-0123456789abcdef0", "vol-0123456789abcdef0"));
	assert_false(devpath_serial_matches(NULL, "vol-0123456789abcdef0"));
}

static void test_partition_names(void **state)
{
	(void)state;
	struct status st = STATUS_INIT;
	char *p = devpath_partition("/dev/nvme1n1", 2, &st);
	assert_string_equal(p, "/dev/nvme1n1p2");
	free(p);
	p = devpath_partition("/dev/xvdf", 1, &st);
	assert_string_equal(p, "/dev/xvdf1");
	free(p);
	assert_null(devpath_partition("/dev/xvdf", 0, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
}

static void test_find_by_id(void **state)
{
	struct tree *t = *state;
	need_loop_nodes();
	struct status st = STATUS_INIT;
	bool via = false;
	assert_null(devpath_find(&t->opts, "vol-0123456789abcdef0", NULL, &via, &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_non_null(strstr(st.msg, "vol-0123456789abcdef0"));

	/* Relative links, as udev makes them, resolve too. */
	link_to(t, "nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0_1", "../../../../dev/loop1");
	char *dev = devpath_find(&t->opts, "vol-0123456789abcdef0", NULL, &via, &st);
	assert_string_equal(dev, "/dev/loop1");
	assert_true(via);
	free(dev);
	/* The plain name wins over the _1 variant. */
	link_to(t, "nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0", "/dev/loop0");
	dev = devpath_find(&t->opts, "vol-0123456789abcdef0", "/dev/loop1", &via, &st);
	assert_string_equal(dev, "/dev/loop0");
	free(dev);
	/* Proven by the link; a different device is not. */
	assert_int_equal(devpath_verify(&t->opts, "vol-0123456789abcdef0", "/dev/loop0", &st), 0);
	assert_int_equal(devpath_verify(&t->opts, "vol-0123456789abcdef0", "/dev/loop0p1", &st), 0);
	assert_int_equal(devpath_verify(&t->opts, "vol-0123456789abcdef0", "/dev/loop1", &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "/dev/loop0"));
	assert_int_equal(devpath_verify(&t->opts, "vol-0123456789abcdef0", "/dev/loop01", &st), -1);
	dev = devpath_resolve(&t->opts, "vol-0123456789abcdef0", NULL, &st);
	assert_string_equal(dev, "/dev/loop0");
	free(dev);

	/* A link to something that is not a block device does not count. */
	link_to(t, "nvme-Amazon_Elastic_Block_Store_vol01234567", "/dev/null");
	assert_null(devpath_find(&t->opts, "vol-01234567", NULL, &via, &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	/* Malformed ids never reach the filesystem. */
	assert_null(devpath_find(&t->opts, "vol-../x", NULL, &via, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
}

static void test_find_by_hint_and_proof(void **state)
{
	struct tree *t = *state;
	need_loop_nodes();
	struct status st = STATUS_INIT;
	bool via = true;
	char hint[512];
	snprintf(hint, sizeof hint, "%s/xvdba", t->root);
	assert_int_equal(symlink("/dev/loop1", hint), 0);
	char *dev = devpath_find(&t->opts, "vol-0123456789abcdef0", hint, &via, &st);
	assert_string_equal(dev, "/dev/loop1");
	assert_false(via);
	/* Found only through the hint: no serial, no link → no proof. */
	assert_int_equal(devpath_verify(&t->opts, "vol-0123456789abcdef0", dev, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_null(devpath_resolve(&t->opts, "vol-0123456789abcdef0", hint, &st));
	/* Unless the operator trusts device paths (Xen). */
	struct devpath_opts trusting = t->opts;
	trusting.trust_device_path = true;
	assert_int_equal(devpath_verify(&trusting, "vol-0123456789abcdef0", dev, &st), 0);
	free(dev);
	/* A hint that does not exist: NOT_FOUND. */
	assert_null(devpath_find(&t->opts, "vol-0123456789abcdef0", "/dev/xvdzz-nonexistent", &via, &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
}

static void test_nvme_serial_proof(void **state)
{
	struct tree *t = *state;
	struct status st = STATUS_INIT;
	fake_serial(t, "nvme1n1", "vol0123456789abcdef0 ");
	fake_serial(t, "nvme2n1", "vol0fedcba9876543210");
	fake_serial(t, "nvme3n1", "AWS1A2B3C4D5E6F7890");
	assert_int_equal(devpath_verify(&t->opts, "vol-0123456789abcdef0", "/dev/nvme1n1", &st), 0);
	assert_int_equal(devpath_verify(&t->opts, "vol-0123456789abcdef0", "/dev/nvme1n1p3", &st), 0);

	assert_int_equal(devpath_verify(&t->opts, "vol-0123456789abcdef0", "/dev/nvme2n1", &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "vol0fedcba9876543210"));
	assert_non_null(strstr(st.msg, "vol-0123456789abcdef0"));
	/* Instance store, and a namespace sysfs does not know. */
	assert_int_equal(devpath_verify(&t->opts, "vol-0123456789abcdef0", "/dev/nvme3n1", &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_int_equal(devpath_verify(&t->opts, "vol-0123456789abcdef0", "/dev/nvme9n1", &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	/* A wrong serial is refused even when trusting paths and even when a
	 * by-id link claims otherwise: the serial is the truth. */
	struct devpath_opts trusting = t->opts;
	trusting.trust_device_path = true;
	assert_int_equal(devpath_verify(&trusting, "vol-0123456789abcdef0", "/dev/nvme2n1", &st), -1);
	assert_int_equal(devpath_verify(&t->opts, "bad", "/dev/nvme1n1", &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_volume_id_valid),
		cmocka_unit_test(test_serial_normalisation),
		cmocka_unit_test(test_partition_names),
		cmocka_unit_test_setup_teardown(test_find_by_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_by_hint_and_proof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nvme_serial_proof, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
