/*
 * test_persist: cloud/ec2sim/sim_persist and sim_state — a state with every
 * kind of object survives dump → parse unchanged (dumping again gives the same
 * text), the atomic save/load through a temporary directory, a missing file
 * is an empty world, corrupt files are refused with DATA_LOSS and leave the
 * state empty, and IDs never repeat.
 */
#include "cloud/ec2sim/sim_persist.h"

#include "common/xalloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void build(struct sim_state *s)
{
	sim_state_init(s, 42);
	struct sim_volume *v = sim_volume_new();
	char id[40];
	sim_state_new_id(s, "vol", id, sizeof id);
	v->id = xstrdup(id);
	v->az = xstrdup("us-east-1a");
	v->spec.type = xstrdup("gp3");
	v->spec.size = 10;
	v->spec.iops = 3000;
	v->spec.throughput = 125;
	v->encrypted = true;
	v->kms_key_id = xstrdup("arn:aws:kms:us-east-1:1:key/x");
	v->status = SIM_VOL_AVAILABLE;
	v->create_ms = 1700000000123;
	v->ready_ms = 1700000001123;
	sim_tags_set(&v->tags, "CSIVolumeName", "pvc-\"quoted\"");
	struct sim_attachment *a = sim_volume_add_attachment(v, "i-1", "/dev/xvdaa");
	a->status = SIM_ATT_DETACHING;
	a->attach_ms = 1700000002000;
	a->due_ms = 1700000003000;
	a->force = true;
	v->mod.state = SIM_MOD_OPTIMIZING;
	sim_spec_copy(&v->mod.orig, &v->spec);
	sim_spec_copy(&v->mod.target, &v->spec);
	v->mod.target.size = 20;
	v->mod.start_ms = 1;
	v->mod.optimizing_ms = 2;
	v->mod.end_ms = 3;
	sim_state_add_volume(s, v);
	struct sim_snapshot *sn = sim_snapshot_new();
	sim_state_new_id(s, "snap", id, sizeof id);
	sn->id = xstrdup(id);
	sn->volume_id = xstrdup(v->id);
	sn->volume_size = 10;
	sn->description = xstrdup("d\n");
	sn->status = SIM_SNAP_PENDING;
	sn->ready_ms = 99;
	strv_push(&sn->fsr_azs, "us-east-1a");
	sim_state_add_snapshot(s, sn);
	sim_state_add_token(s, "CreateVolume", "tok", "Size=10\n", v->id);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct sim_state a, b;
	build(&a);
	char *text = sim_persist_dump(&a);
	sim_state_init(&b, 0);
	struct status st = STATUS_INIT;
	assert_int_equal(sim_persist_parse(text, &b, &st), 0);
	char *again = sim_persist_dump(&b);
	assert_string_equal(text, again);
	assert_int_equal(b.n_vols, 1);
	assert_int_equal(b.vols[0]->att[0].status, SIM_ATT_DETACHING);
	assert_true(b.vols[0]->att[0].force);
	assert_int_equal(b.vols[0]->mod.target.size, 20);
	assert_string_equal(sim_tags_get(&b.vols[0]->tags, "CSIVolumeName"), "pvc-\"quoted\"");
	assert_int_equal(b.rng, a.rng);
	assert_string_equal(b.imds_key, a.imds_key);
	assert_non_null(sim_state_token(&b, "CreateVolume", "tok"));
	assert_string_equal(b.snaps[0]->fsr_azs.v[0], "us-east-1a");
	free(text);
	free(again);
	sim_state_dispose(&a);
	sim_state_dispose(&b);
}

static void test_save_load(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_persist_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/state.json", dir);
	struct sim_state a, b;
	struct status st = STATUS_INIT;
	bool found = true;
	sim_state_init(&b, 0);
	assert_int_equal(sim_persist_load(path, &b, &found, &st), 0);
	assert_false(found);
	build(&a);
	assert_int_equal(sim_persist_save(path, &a, &st), 0);
	assert_int_equal(sim_persist_load(path, &b, &found, &st), 0);
	assert_true(found);
	assert_string_equal(b.vols[0]->id, a.vols[0]->id);
	char *tmp = xasprintf("%s.tmp", path);
	assert_int_not_equal(access(tmp, F_OK), 0);
	unlink(path);
	rmdir(dir);
	free(tmp);
	free(path);
	sim_state_dispose(&a);
	sim_state_dispose(&b);
}

static void test_corrupt(void **state)
{
	(void)state;
	const char *bad[] = {
		"not json",
		"{\"version\":2}",
		"{\"version\":1,\"rng\":\"zz\",\"imds_key\":\"x\"}",
		"{\"version\":1,\"rng\":\"1\",\"imds_key\":\"0000000000000000000000000000000000000000000000000000000000000000\","
		"\"volumes\":[{\"id\":\"vol-1\",\"az\":\"a\",\"spec\":{\"type\":\"gp3\",\"size\":\"ten\"}}]}",
		"{\"version\":1,\"rng\":\"1\",\"imds_key\":\"0000000000000000000000000000000000000000000000000000000000000000\","
		"\"volumes\":[{\"id\":\"vol-1\",\"az\":\"a\",\"spec\":{\"type\":\"gp3\"},\"status\":9}]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sim_state s;
		struct status st = STATUS_INIT;
		sim_state_init(&s, 0);
		assert_int_equal(sim_persist_parse(bad[i], &s, &st), -1);
		assert_int_equal(st.code, STATUS_DATA_LOSS);
		assert_int_equal(s.n_vols, 0);
		sim_state_dispose(&s);
	}
}

static void test_ids_unique(void **state)
{
	(void)state;
	struct sim_state s;
	build(&s);
	/* Rewind the generator: the next IDs would collide with existing ones. */
	s.rng = 42;
	char id[40];
	sim_state_new_id(&s, "vol", id, sizeof id);
	assert_null(sim_state_volume_any(&s, id));
	assert_int_equal(strlen(id), 21);
	sim_state_dispose(&s);
}

static void test_prune(void **state)
{
	(void)state;
	struct sim_state s;
	build(&s);
	s.vols[0]->status = SIM_VOL_DELETED;
	s.vols[0]->deleted_ms = 100;
	assert_null(sim_state_volume(&s, s.vols[0]->id));
	sim_state_prune(&s, 50);
	assert_int_equal(s.n_vols, 1);
	sim_state_prune(&s, 200);
	assert_int_equal(s.n_vols, 0);
	assert_int_equal(s.n_tokens, 0);
	sim_state_dispose(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_ids_unique),
		cmocka_unit_test(test_prune),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
