/*
 * fuzz_sim_state: the simulator's state file (cloud/ec2sim/sim_persist.h) —
 * the JSON a restarted simulator loads, which a crash or a hand edit may
 * have left in any shape.
 *
 * Input: the file's text (the parser takes a C string: the input up to its
 * first NUL).
 * Oracles: a corrupt file is STATUS_DATA_LOSS and leaves the state empty;
 * a file that loads dumps to JSON that loads again and dumps to the same
 * text (nothing is lost or invented across a restart).
 */
#include "tests/fuzz/fuzz_util.h"

#include "cloud/ec2sim/sim_persist.h"
#include "cloud/ec2sim/sim_state.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	char *text = fz_str(&f, NULL);
	struct sim_state s;
	sim_state_init(&s, 1);
	struct status st = STATUS_INIT;
	if (sim_persist_parse(text, &s, &st) == 0) {
		char *d1 = sim_persist_dump(&s);
		struct sim_state s2;
		sim_state_init(&s2, 1);
		struct status st2 = STATUS_INIT;
		if (sim_persist_parse(d1, &s2, &st2) != 0) {
			fprintf(stderr, "dumped state does not load again: %s\n%s\n", st2.msg, d1);
			abort();
		}
		char *d2 = sim_persist_dump(&s2);
		if (strcmp(d1, d2) != 0) {
			fprintf(stderr, "state changes across a reload:\n%s\n%s\n", d1, d2);
			abort();
		}
		free(d1);
		free(d2);
		sim_state_dispose(&s2);
	} else if (st.code != STATUS_DATA_LOSS) {
		abort();
	}
	sim_state_dispose(&s);
	free(text);
	return 0;
}
