/*
 * test_limits: node/limits — max_volumes_per_node as upstream computes it
 * (shared/reference/upstream-ebs-csi.md section 6.7) for a Nitro shared type
 * missing from the table (m5.large: 27 shared, i.e. 28 minus ENIs minus
 * reserved), shared types in it (m5d.large, c5.metal, d3.8xlarge, mac1.metal),
 * dedicated types (m7i, c8gb with two EBS cards), Xen types (m4.large, t2: 39),
 * unknown and empty types, both flags, the floor of 1 and absurd inputs.
 * The generated table is checked for order and sanity, and every row of
 * tests/fixtures/ebs-attach-limits.tsv against lookups (run from the repo root).
 */
#include "node/limits.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TSV_PATH "tests/fixtures/ebs-attach-limits.tsv"

/* max_volumes_per_node with both flags unset. */
static int mvpn(const char *type, int enis, int bdm)
{
	struct limits_node n = {
		.instance_type = type,
		.attached_enis = enis,
		.block_device_mappings = bdm,
		.volume_attach_limit = -1,
		.reserved_attachments = -1,
	};
	return limits_max_volumes_per_node(&n);
}

static int mvpn_flags(const char *type, int enis, int bdm, int attach_limit, int reserved)
{
	struct limits_node n = {
		.instance_type = type,
		.attached_enis = enis,
		.block_device_mappings = bdm,
		.volume_attach_limit = attach_limit,
		.reserved_attachments = reserved,
	};
	return limits_max_volumes_per_node(&n);
}

static void test_table_sorted_and_sane(void **state)
{
	(void)state;
	/* 1102 rows in the TSV: 704 Nitro dedicated, 324 Nitro shared, 74 Xen */
	assert_int_equal(limits_table_len, 1102);
	size_t xen = 0, dedicated = 0, shared = 0;
	for (size_t i = 0; i < limits_table_len; i++) {
		const struct limits_entry *e = &limits_table[i];
		assert_non_null(memchr(e->instance_type, '\0', LIMITS_TYPE_MAX));
		assert_true(e->instance_type[0] != '\0');
		if (i > 0 && strcmp(limits_table[i - 1].instance_type, e->instance_type) >= 0)
			fail_msg("table not strictly sorted at %zu: %s, %s", i, limits_table[i - 1].instance_type,
				 e->instance_type);
		assert_true(e->max_attachments >= 1);
		assert_true(e->ebs_cards >= 1);
		assert_int_equal(e->flags & ~(LIMITS_DEDICATED | LIMITS_XEN), 0);
		if (e->flags & LIMITS_XEN) {
			assert_int_equal(e->max_attachments, LIMITS_XEN_ATTACHMENTS);
			assert_true(e->flags & LIMITS_DEDICATED);
			xen++;
		} else if (e->flags & LIMITS_DEDICATED) {
			dedicated++;
		} else {
			shared++;
		}
		/* every entry is found by the bisection */
		assert_ptr_equal(limits_find(e->instance_type), e);
	}
	assert_int_equal(xen, 74);
	assert_int_equal(dedicated, 704);
	assert_int_equal(shared, 324);
}

/* Every data row of the TSV the table was generated from is what limits_find
 * and limits_for_type answer, and nothing else is in the table. */
static void test_table_matches_tsv(void **state)
{
	(void)state;
	FILE *f = fopen(TSV_PATH, "r");
	if (f == NULL)
		fail_msg("cannot open %s: run the test from the repository root", TSV_PATH);
	char line[512];
	size_t rows = 0;
	bool header = false;
	while (fgets(line, sizeof line, f) != NULL) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		if (!header) {
			assert_string_equal(line, "instance_type\thypervisor\tmax_ebs_attachments\tlimit_type\tebs_cards");
			header = true;
			continue;
		}
		char name[64], hyper[16], kind[16];
		int limit, cards;
		if (sscanf(line, "%63[^\t]\t%15[^\t]\t%d\t%15[^\t]\t%d", name, hyper, &limit, kind, &cards) != 5)
			fail_msg("unparsable TSV line: %s", line);
		const struct limits_entry *e = limits_find(name);
		if (e == NULL)
			fail_msg("%s is in the TSV but not in the table", name);
		struct limits_type t;
		limits_for_type(name, &t);
		assert_true(t.known);
		if (t.max_attachments != limit || t.ebs_cards != cards || t.dedicated != (strcmp(kind, "dedicated") == 0) ||
		    t.xen != (strcmp(hyper, "xen") == 0))
			fail_msg("%s: table has (%d, %s, %s, %d cards), TSV (%d, %s, %s, %d cards)", name,
				 t.max_attachments, t.dedicated ? "dedicated" : "shared", t.xen ? "xen" : "nitro",
				 t.ebs_cards, limit, kind, hyper, cards);
		rows++;
	}
	fclose(f);
	assert_true(header);
	assert_int_equal(rows, limits_table_len);
}

static void test_find(void **state)
{
	(void)state;
	assert_string_equal(limits_find("a1.metal")->instance_type, "a1.metal"); /* first */
	assert_ptr_equal(limits_find(limits_table[limits_table_len - 1].instance_type),
			 &limits_table[limits_table_len - 1]);                      /* last */
	assert_int_equal(limits_find("m7i.large")->max_attachments, 32);
	assert_null(limits_find(NULL));
	assert_null(limits_find(""));
	assert_null(limits_find("m5.large"));            /* most Nitro types are not listed */
	assert_null(limits_find("m7i"));                 /* a prefix is not a match */
	assert_null(limits_find("m7i.large "));
	assert_null(limits_find("M7I.LARGE"));           /* IMDS spells types in lower case */
	assert_null(limits_find("a"));                   /* before the first entry */
	assert_null(limits_find("zzzz.large"));          /* after the last */
	assert_null(limits_find("u7i-12tb.224xlarge-and-much-longer-than-the-field"));
}

static void test_for_type_fallback(void **state)
{
	(void)state;
	struct limits_type t;
	const char *unknown[] = { "m5.large", "m5.24xlarge", "c5.xlarge", "t3.medium", "x9z.future", "", NULL };
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		limits_for_type(unknown[i], &t);
		assert_false(t.known);
		assert_int_equal(t.max_attachments, 27);
		assert_false(t.dedicated);
		assert_false(t.xen);
		assert_int_equal(t.ebs_cards, 1);
	}
	limits_for_type("c8gb.48xlarge", &t);
	assert_true(t.known);
	assert_int_equal(t.max_attachments, 128);
	assert_true(t.dedicated);
	assert_int_equal(t.ebs_cards, 2);
	limits_for_type("m4.large", &t);
	assert_true(t.known && t.xen && t.dedicated);
	assert_int_equal(t.max_attachments, 39);
}

/* m5.large is not in the table: 27 shared = 28 Nitro slots less the primary
 * ENI; then the root volume, launch-time EBS mappings and further ENIs. */
static void test_nitro_shared_unlisted(void **state)
{
	(void)state;
	assert_int_equal(mvpn("m5.large", 1, 0), 26);  /* 28 - 1 ENI - 1 root */
	assert_int_equal(mvpn("m5.large", 2, 0), 25);
	assert_int_equal(mvpn("m5.large", 3, 0), 24);  /* 28 - 3 ENIs - 1 root */
	assert_int_equal(mvpn("m5.large", 1, 2), 24);  /* 2 extra EBS volumes at launch */
	assert_int_equal(mvpn("m5.large", 3, 2), 22);
	assert_int_equal(mvpn("m5.24xlarge", 15, 0), 12);
	/* a type newer than the table gets the same treatment */
	assert_int_equal(mvpn("x9z.48xlarge", 1, 0), 26);
	assert_int_equal(mvpn("", 1, 0), 26);
	assert_int_equal(mvpn(NULL, 2, 1), 24);
}

/* Shared types in the table: the table's figure already leaves out
 * instance-store NVMe (m5d.large has one disk: 26; c5d.24xlarge four: 23). */
static void test_nitro_shared_listed(void **state)
{
	(void)state;
	assert_int_equal(mvpn("m5d.large", 1, 0), 25);
	assert_int_equal(mvpn("m5d.large", 2, 1), 23);
	assert_int_equal(mvpn("c5d.24xlarge", 1, 0), 22);
	assert_int_equal(mvpn("c5.metal", 1, 0), 30);  /* most metal types: 31 */
	assert_int_equal(mvpn("c5.metal", 4, 0), 27);
	assert_int_equal(mvpn("mac1.metal", 1, 0), 15);
	assert_int_equal(mvpn("inf1.24xlarge", 2, 0), 9);
	assert_int_equal(mvpn("a1.metal", 1, 0), 30);
}

/* Dedicated types: the limit counts EBS volumes only; ENIs do not matter. */
static void test_nitro_dedicated(void **state)
{
	(void)state;
	assert_int_equal(mvpn("m7i.large", 1, 0), 31);
	assert_int_equal(mvpn("m7i.large", 8, 0), 31);
	assert_int_equal(mvpn("m7i.large", 2, 3), 28);
	assert_int_equal(mvpn("m7i.16xlarge", 1, 0), 47);
	assert_int_equal(mvpn("m7i.48xlarge", 15, 0), 127);
	assert_int_equal(mvpn("m7i.metal-24xl", 3, 0), 38);  /* metal overridden to dedicated */
	assert_int_equal(mvpn("c7i-flex.large", 4, 0), 31);
	/* two EBS cards: the table's figure is the instance total */
	assert_int_equal(mvpn("c8gb.48xlarge", 2, 0), 127);
	assert_int_equal(mvpn("c8gb.metal-48xl", 2, 0), 77);
}

/* Xen types: 39, dedicated, whatever the ENIs. */
static void test_xen(void **state)
{
	(void)state;
	assert_int_equal(mvpn("m4.large", 1, 0), 38);
	assert_int_equal(mvpn("m4.large", 4, 0), 38);
	assert_int_equal(mvpn("m4.large", 1, 5), 33);
	assert_int_equal(mvpn("t2.micro", 2, 0), 38);
	assert_int_equal(mvpn("t2.2xlarge", 1, 1), 37);
	assert_int_equal(mvpn("i3.16xlarge", 8, 0), 38);
	assert_int_equal(mvpn("c4.8xlarge", 1, 0), 38);
}

static void test_volume_attach_limit_override(void **state)
{
	(void)state;
	/* --volume-attach-limit wins over everything, returned as given */
	assert_int_equal(mvpn_flags("m5.large", 3, 2, 10, -1), 10);
	assert_int_equal(mvpn_flags("m7i.large", 1, 0, 100, -1), 100);
	assert_int_equal(mvpn_flags("d3.8xlarge", 8, 9, 5, -1), 5);
	assert_int_equal(mvpn_flags(NULL, 0, 0, 1, -1), 1);
	/* 0 is passed through (upstream does too): Kubernetes then sets no limit */
	assert_int_equal(mvpn_flags("m5.large", 1, 0, 0, -1), 0);
	/* below 0 counts as unset */
	assert_int_equal(mvpn_flags("m5.large", 1, 0, -1, -1), 26);
}

static void test_reserved_override(void **state)
{
	(void)state;
	/* --reserved-volume-attachments replaces mappings + root, ENIs still count */
	assert_int_equal(mvpn_flags("m5.large", 1, 4, -1, 0), 27);
	assert_int_equal(mvpn_flags("m5.large", 1, 4, -1, 5), 22);
	assert_int_equal(mvpn_flags("m5.large", 3, 0, -1, 1), 24);
	assert_int_equal(mvpn_flags("m7i.large", 5, 9, -1, 0), 32);
	assert_int_equal(mvpn_flags("m7i.large", 5, 9, -1, 2), 30);
	assert_int_equal(mvpn_flags("m4.large", 1, 0, -1, 3), 36);
	/* negative values other than -1 count as unset here (limits_check_flags rejects them) */
	assert_int_equal(mvpn_flags("m5.large", 1, 0, -1, -7), 26);
}

static void test_floor_of_one(void **state)
{
	(void)state;
	/* d3.8xlarge: 3 shared slots */
	assert_int_equal(mvpn("d3.8xlarge", 1, 0), 2);
	assert_int_equal(mvpn("d3.8xlarge", 2, 0), 1);
	assert_int_equal(mvpn("d3.8xlarge", 4, 0), 1);   /* 3 - 1 - 3 < 0 */
	assert_int_equal(mvpn("d3.8xlarge", 1, 2), 1);   /* exactly 0 left */
	assert_int_equal(mvpn_flags("m7i.large", 1, 0, -1, 32), 1);
	assert_int_equal(mvpn_flags("m7i.large", 1, 0, -1, 500), 1);
}

static void test_odd_inputs(void **state)
{
	(void)state;
	/* ENI count unknown or nonsense: one ENI, never extra slots */
	assert_int_equal(mvpn("m5.large", 0, 0), 26);
	assert_int_equal(mvpn("m5.large", -3, 0), 26);
	assert_int_equal(mvpn("m5.large", 1, -2), 26);
	/* huge counts must not overflow into large positive limits */
	assert_int_equal(mvpn("m5.large", INT_MAX, 0), 1);
	assert_int_equal(mvpn("m5.large", 1, INT_MAX), 1);
	assert_int_equal(mvpn("m5.large", INT_MAX, INT_MAX), 1);
	assert_int_equal(mvpn_flags("m5.large", INT_MAX, 0, -1, INT_MAX), 1);
	assert_int_equal(mvpn_flags("m5.large", 1, 0, INT_MAX, -1), INT_MAX);
	assert_int_equal(mvpn_flags("m5.large", 1, 0, INT_MIN, INT_MIN), 26);
}

/* The formula over the whole table, one ENI and three. */
static void test_every_type(void **state)
{
	(void)state;
	for (size_t i = 0; i < limits_table_len; i++) {
		const struct limits_entry *e = &limits_table[i];
		int lim = e->max_attachments;
		int want1 = lim - 1 > 1 ? lim - 1 : 1;
		int want3 = (e->flags & LIMITS_DEDICATED) ? want1 : (lim - 3 > 1 ? lim - 3 : 1);
		if (mvpn(e->instance_type, 1, 0) != want1 || mvpn(e->instance_type, 3, 0) != want3)
			fail_msg("%s: got %d/%d, want %d/%d", e->instance_type, mvpn(e->instance_type, 1, 0),
				 mvpn(e->instance_type, 3, 0), want1, want3);
	}
}

static void test_check_flags(void **state)
{
	(void)state;
	struct status st = STATUS_INIT;
	assert_int_equal(limits_check_flags(-1, -1, &st), 0);
	assert_int_equal(limits_check_flags(0, -1, &st), 0);
	assert_int_equal(limits_check_flags(25, -1, &st), 0);
	assert_int_equal(limits_check_flags(-1, 0, &st), 0);
	assert_int_equal(limits_check_flags(-1, 3, &st), 0);
	assert_true(status_ok(&st));

	assert_int_equal(limits_check_flags(10, 2, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "--volume-attach-limit"));
	assert_non_null(strstr(st.msg, "--reserved-volume-attachments"));
	assert_non_null(strstr(st.msg, "mutually exclusive"));

	status_clear(&st);
	assert_int_equal(limits_check_flags(0, 0, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);

	status_clear(&st);
	assert_int_equal(limits_check_flags(-2, -1, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "--volume-attach-limit"));

	status_clear(&st);
	assert_int_equal(limits_check_flags(-1, -5, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "--reserved-volume-attachments"));

	assert_int_equal(limits_check_flags(1, 1, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_sorted_and_sane),
		cmocka_unit_test(test_table_matches_tsv),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_for_type_fallback),
		cmocka_unit_test(test_nitro_shared_unlisted),
		cmocka_unit_test(test_nitro_shared_listed),
		cmocka_unit_test(test_nitro_dedicated),
		cmocka_unit_test(test_xen),
		cmocka_unit_test(test_volume_attach_limit_override),
		cmocka_unit_test(test_reserved_override),
		cmocka_unit_test(test_floor_of_one),
		cmocka_unit_test(test_odd_inputs),
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_check_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
