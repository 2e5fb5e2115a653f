/*
 * fuzz_imds: the IMDS listing parsers behind imds_get_instance_info
 * (cloud/imds.h): network/interfaces/macs/ and block-device-mapping/.
 *
 * Input: the listing as IMDS would send it (the parsers take a C string:
 * the input is copied up to its first NUL). Both parsers run on every input.
 * Oracle: a count is -1 (malformed) or at least 0, and never more than the
 * number of lines.
 * Not reachable without the network: the identity document is parsed inside
 * imds.c by a static function (fill_from_document) that fetches it first;
 * exposing a pure parser for it would let it be fuzzed here too.
 */
#include "tests/fuzz/fuzz_util.h"

#include "cloud/imds.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	char *s = fz_str(&f, NULL);
	int lines = 1;
	for (const char *p = s; *p; p++)
		lines += *p == '\n';
	int macs = imds_count_macs(s);
	int maps = imds_count_ebs_mappings(s);
	if (macs < -1 || macs > lines || maps < -1 || maps > lines)
		abort();
	free(s);
	return 0;
}
