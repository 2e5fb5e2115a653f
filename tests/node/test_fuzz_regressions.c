/*
 * test_fuzz_regressions (node): bugs found by the libFuzzer targets of
 * tests/fuzz/, one test each, so the sanitizer unit run keeps them fixed.
 * The inputs themselves are in tests/fuzz/corpus/<target>/crash-*.
 *   - fuzz_node_parsers: nvme_ebs_histogram_buckets summed the device's bin
 *     counts without saturation; counts near UINT64_MAX wrapped and the
 *     cumulative histogram went down.
 */
#include "node/nvme_metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_histogram_counts_saturate(void **state)
{
	(void)state;
	struct nvme_ebs_histogram h;
	memset(&h, 0, sizeof h);
	h.bin_count = 3;
	for (int i = 0; i < 3; i++) {
		h.bins[i].lower_us = (uint64_t)i * 100;
		h.bins[i].upper_us = (uint64_t)(i + 1) * 100;
		h.bins[i].count = UINT64_MAX / 2 + 7;
	}
	double bounds[NVME_EBS_HIST_BINS];
	uint64_t cum[NVME_EBS_HIST_BINS], total = 0;
	size_t n = nvme_ebs_histogram_buckets(&h, bounds, cum, &total);
	assert_int_equal(n, 3);
	assert_true(cum[1] >= cum[0]);
	assert_true(cum[2] >= cum[1]);
	assert_true(cum[2] == UINT64_MAX);
	assert_true(total == UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histogram_counts_saturate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
