/*
 * fuzz_kubeconfig: the kubeconfig reader (k8s/kubeconfig.h) — the YAML
 * subset parser, the extraction of the current context's cluster and user,
 * and base64 for the *-data fields.
 *
 * Input: one selector byte, then the text (not NUL-terminated: the parsers
 * take a length). Even: k8s_kubeconfig_parse (which runs the YAML parser);
 * odd: k8s_yaml_parse alone, its tree serialised again by jansson, and
 * k8s_base64_decode of the same bytes.
 * Oracles: a parsed kubeconfig has a server; a decoded base64 buffer is
 * NUL-terminated at its length and no longer than 3/4 of the input.
 */
#include "tests/fuzz/fuzz_util.h"

#include "common/status.h"
#include "k8s/k8s.h"
#include "k8s/kubeconfig.h"

#include <jansson.h>
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
	uint8_t sel = fz_byte(&f);
	size_t len;
	char *text = fz_rest(&f, &len);
	struct status st = STATUS_INIT;

	if ((sel & 1) == 0) {
		struct k8s_config cfg;
		k8s_config_init(&cfg);
		if (k8s_kubeconfig_parse(text, len, (sel & 2) ? "/etc/kubernetes" : NULL, &cfg, &st) == 0) {
			if (cfg.server == NULL)
				abort();
		} else if (st.code != STATUS_INVALID_ARGUMENT) {
			abort();
		}
		k8s_config_dispose(&cfg);
	} else {
		json_t *doc = NULL;
		if (k8s_yaml_parse(text, len, &doc, &st) == 0) {
			char *s = json_dumps(doc, JSON_ENCODE_ANY | JSON_COMPACT);
			free(s);
			json_decref(doc);
		} else if (st.code != STATUS_INVALID_ARGUMENT || doc != NULL) {
			abort();
		}
		char *out = NULL;
		size_t out_len = 0;
		if (k8s_base64_decode(text, len, &out, &out_len) == 0) {
			if (out == NULL || out_len > len / 4 * 3 + 3 || out[out_len] != '\0')
				abort();
			free(out);
		}
	}
	free(text);
	return 0;
}
