/*
 * sim_config: command-line parsing for ebs-ec2-sim. See sim_config.h.
 *
 * A flag table drives parsing, so usage text, parsing and defaults cannot
 * disagree. Instances and zones are parsed after all flags, because their
 * defaults depend on --region.
 */
#include "cloud/ec2sim/sim_config.h"

#include "cloud/endpoint.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/strv.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static void defaults(struct sim_config *c)
{
	memset(c, 0, sizeof *c);
	c->listen_host = xstrdup("127.0.0.1");
	c->port = 8971;
	c->state_dir = xstrdup("ec2sim-state");
	c->region = xstrdup("us-east-1");
	c->account_id = xstrdup("123456789012");
	c->access_key = xstrdup(SIM_DEFAULT_ACCESS_KEY);
	c->secret_key = xstrdup(SIM_DEFAULT_SECRET_KEY);
	c->dev_dir = xstrdup("/dev/disk/by-id");
	c->create_delay_ms = 1000;
	c->attach_delay_ms = 1000;
	c->detach_delay_ms = 1000;
	c->snapshot_delay_ms = 2000;
	c->modify_delay_ms = 1000;
	c->optimize_delay_ms = 2000;
	c->seed = 1;
	c->max_skew_s = 900;
}

static void free_instances(struct sim_config *c)
{
	for (size_t i = 0; i < c->n_instances; i++) {
		free(c->instances[i].id);
		free(c->instances[i].az);
		free(c->instances[i].type);
		free(c->instances[i].root_device);
	}
	free(c->instances);
	c->instances = NULL;
	c->n_instances = 0;
}

static void free_zones(struct sim_config *c)
{
	for (size_t i = 0; i < c->n_zones; i++) {
		free(c->zones[i].name);
		free(c->zones[i].id);
	}
	free(c->zones);
	c->zones = NULL;
	c->n_zones = 0;
}

void sim_config_dispose(struct sim_config *c)
{
	free(c->listen_host);
	free(c->port_file);
	free(c->state_dir);
	free(c->region);
	free(c->account_id);
	free(c->access_key);
	free(c->secret_key);
	free(c->session_token);
	free(c->imds_role);
	free(c->dev_dir);
	free_instances(c);
	free_zones(c);
	memset(c, 0, sizeof *c);
}

char *sim_config_zone_id(const char *zone)
{
	/* "us-east-1a": parts "us", "east", "1a" → "use1-az1". */
	struct buf b;
	buf_init(&b);
	struct strv parts;
	strv_init(&parts);
	strv_split(&parts, zone, '-', STRV_SPLIT_SKIP_EMPTY);
	for (size_t i = 0; i < parts.n; i++) {
		const char *p = parts.v[i];
		if (i + 1 < parts.n) {
			if (i == 0) {
				buf_puts(&b, p);
				continue;
			}
			/* AWS's short forms: southeast → se, northwest → nw, central → c. */
			if (strncmp(p, "north", 5) == 0 || strncmp(p, "south", 5) == 0) {
				buf_putc(&b, p[0]);
				p += 5;
			}
			if (*p != '\0')
				buf_putc(&b, p[0]);
		} else {
			size_t n = strlen(p);
			while (n > 0 && isalpha((unsigned char)p[n - 1]))
				n--;
			buf_append(&b, p, n);
			int letter = p[n] ? p[n] - 'a' + 1 : 1;
			buf_printf(&b, "-az%d", letter);
		}
	}
	strv_dispose(&parts);
	char *out = buf_take(&b);
	buf_dispose(&b);
	return out;
}

static int add_zone(struct sim_config *c, const char *name, struct status *st)
{
	size_t rl = strlen(c->region);
	if (strncmp(name, c->region, rl) != 0 || strlen(name) != rl + 1 || !islower((unsigned char)name[rl]))
		return status_set(st, STATUS_INVALID_ARGUMENT, "--zones: '%s' is not a zone of region %s", name,
				  c->region);
	if (sim_config_zone(c, name) != NULL)
		return 0;
	c->zones = xrealloc(c->zones, (c->n_zones + 1) * sizeof *c->zones);
	c->zones[c->n_zones].name = xstrdup(name);
	c->zones[c->n_zones].id = sim_config_zone_id(name);
	c->n_zones++;
	return 0;
}

const struct sim_zone *sim_config_zone(const struct sim_config *c, const char *name)
{
	for (size_t i = 0; name != NULL && i < c->n_zones; i++)
		if (strcmp(c->zones[i].name, name) == 0)
			return &c->zones[i];
	return NULL;
}

const struct sim_instance *sim_config_instance(const struct sim_config *c, const char *id)
{
	for (size_t i = 0; id != NULL && i < c->n_instances; i++)
		if (strcmp(c->instances[i].id, id) == 0)
			return &c->instances[i];
	return NULL;
}

void sim_config_eni_mac(const struct sim_instance *in, int n, char out[18])
{
	snprintf(out, 18, "0e:5a:%02x:%02x:%02x:%02x", (unsigned)(in->index >> 8) & 0xff, (unsigned)in->index & 0xff,
		 (unsigned)n & 0xff, 0x10u);
}

static int parse_small_int(const char *s, int min, int max, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static bool instance_id_ok(const char *id)
{
	if (strncmp(id, "i-", 2) != 0 || id[2] == '\0' || strlen(id) > 40)
		return false;
	for (const char *p = id + 2; *p; p++)
		if (!isdigit((unsigned char)*p) && (*p < 'a' || *p > 'z'))
			return false;
	return true;
}

int sim_config_parse_instances(struct sim_config *c, const char *spec, struct status *st)
{
	free_instances(c);
	struct strv items;
	strv_init(&items);
	strv_split(&items, spec, ',', STRV_SPLIT_SKIP_EMPTY | STRV_SPLIT_TRIM);
	int rc = 0;
	for (size_t i = 0; i < items.n && rc == 0; i++) {
		struct strv f;
		strv_init(&f);
		strv_split(&f, items.v[i], ':', STRV_SPLIT_KEEP_EMPTY);
		if (f.n < 3 || !instance_id_ok(f.v[0]) || f.v[1][0] == '\0' || f.v[2][0] == '\0') {
			rc = status_set(st, STATUS_INVALID_ARGUMENT,
					"--instances: '%s' is not ID:ZONE:TYPE[:enis=N][:ebs=N][:root=DEV]", items.v[i]);
			strv_dispose(&f);
			break;
		}
		if (sim_config_instance(c, f.v[0]) != NULL) {
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "--instances: %s is listed twice", f.v[0]);
			strv_dispose(&f);
			break;
		}
		c->instances = xrealloc(c->instances, (c->n_instances + 1) * sizeof *c->instances);
		struct sim_instance *in = &c->instances[c->n_instances++];
		memset(in, 0, sizeof *in);
		in->id = xstrdup(f.v[0]);
		in->az = xstrdup(f.v[1]);
		in->type = xstrdup(f.v[2]);
		in->root_device = xstrdup("/dev/xvda");
		in->n_enis = 1;
		size_t idx = c->n_instances - 1;
		in->index = idx;
		sim_config_eni_mac(in, 0, in->mac);
		snprintf(in->ip, sizeof in->ip, "10.0.%u.%u", (unsigned)(idx / 200), (unsigned)(idx % 200 + 10));
		for (size_t k = 3; k < f.n && rc == 0; k++) {
			const char *o = f.v[k];
			if (strncmp(o, "enis=", 5) == 0 && parse_small_int(o + 5, 1, 15, &in->n_enis) == 0)
				continue;
			if (strncmp(o, "ebs=", 4) == 0 && parse_small_int(o + 4, 0, 20, &in->n_ebs) == 0)
				continue;
			if (strncmp(o, "root=", 5) == 0 && strncmp(o + 5, "/dev/", 5) == 0) {
				set_str(&in->root_device, o + 5);
				continue;
			}
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "--instances: bad option '%s' for %s", o, in->id);
		}
		strv_dispose(&f);
	}
	strv_dispose(&items);
	return rc;
}

enum flag_kind { F_STR, F_LONG, F_RATE, F_BOOL, F_SPECIAL };

struct flag {
	const char *name;
	int kind;
	size_t off;       /* offsetof into struct sim_config for F_STR/F_LONG/F_BOOL */
	const char *arg;
	const char *help;
};

#define OFF(m) offsetof(struct sim_config, m)
static const struct flag FLAGS[] = {
	{ "--listen", F_SPECIAL, 0, "HOST:PORT",
	  "address to serve EC2 and IMDS on (default " SIM_DEFAULT_LISTEN "; port 0 picks one)" },
	{ "--port-file", F_STR, OFF(port_file), "PATH", "write the port chosen to PATH once listening" },
	{ "--state-dir", F_STR, OFF(state_dir), "DIR", "state.json and volume files (default ./ec2sim-state)" },
	{ "--region", F_STR, OFF(region), "REGION", "region served and expected in signatures (default us-east-1)" },
	{ "--zones", F_SPECIAL, 0, "Z1,Z2", "availability zones (default REGIONa,REGIONb,REGIONc)" },
	{ "--instances", F_SPECIAL, 0, "SPEC",
	  "ID:ZONE:TYPE[:enis=N][:ebs=N][:root=DEV],... (default i-0123456789abcdef0:REGIONa:m5.large)" },
	{ "--imds-instance", F_SPECIAL, 0, "ID", "the instance IMDS answers for (default the first)" },
	{ "--imds-v1", F_BOOL, OFF(imds_v1), NULL, "answer IMDS GETs without a session token" },
	{ "--imds-role", F_STR, OFF(imds_role), "NAME", "serve the configured keys as IMDS role credentials of NAME" },
	{ "--access-key", F_STR, OFF(access_key), "ID",
	  "access key ID clients sign with (default " SIM_DEFAULT_ACCESS_KEY ")" },
	{ "--secret-key", F_STR, OFF(secret_key), "KEY", "its secret (default " SIM_DEFAULT_SECRET_KEY ")" },
	{ "--session-token", F_STR, OFF(session_token), "TOKEN",
	  "require this X-Amz-Security-Token (default: accept any)" },
	{ "--account-id", F_STR, OFF(account_id), "ID", "owner ID of snapshots (default 123456789012)" },
	{ "--attach", F_SPECIAL, 0, "none|loop",
	  "none: attachments are state only; loop: sparse files on loop devices (root)" },
	{ "--dev-dir", F_STR, OFF(dev_dir), "DIR",
	  "where --attach=loop makes nvme-Amazon_Elastic_Block_Store_vol* links (default /dev/disk/by-id)" },
	{ "--delay-ms", F_SPECIAL, 0, "MS", "set every transition delay below at once" },
	{ "--create-delay-ms", F_LONG, OFF(create_delay_ms), "MS", "creating -> available (default 1000)" },
	{ "--attach-delay-ms", F_LONG, OFF(attach_delay_ms), "MS", "attaching -> attached (default 1000)" },
	{ "--detach-delay-ms", F_LONG, OFF(detach_delay_ms), "MS", "detaching -> detached (default 1000)" },
	{ "--snapshot-delay-ms", F_LONG, OFF(snapshot_delay_ms), "MS", "snapshot pending -> completed (default 2000)" },
	{ "--modify-delay-ms", F_LONG, OFF(modify_delay_ms), "MS",
	  "modification modifying -> optimizing (default 1000)" },
	{ "--optimize-delay-ms", F_LONG, OFF(optimize_delay_ms), "MS",
	  "modification optimizing -> completed (default 2000)" },
	{ "--throttle", F_SPECIAL, 0, "off|aws|CAP/REFILL", "request throttling (default off)" },
	{ "--fail-rate", F_RATE, offsetof(struct sim_config, faults.fail_rate), "P",
	  "answer 500/503 with probability P" },
	{ "--drop-rate", F_RATE, offsetof(struct sim_config, faults.drop_rate), "P",
	  "drop the connection with probability P" },
	{ "--stuck-attach-rate", F_RATE, offsetof(struct sim_config, faults.stuck_attach_rate), "P",
	  "leave attachments attaching with probability P" },
	{ "--latency-ms", F_LONG, offsetof(struct sim_config, faults.latency_ms), "MS", "added to every EC2 call" },
	{ "--seed", F_SPECIAL, 0, "N", "random seed for IDs and faults (default 1)" },
	{ "--max-skew-s", F_LONG, OFF(max_skew_s), "S", "allowed clock skew of signed requests (default 900; 0 off)" },
	{ "-v", F_SPECIAL, 0, "N", "log verbosity" },
	{ "--logging-format", F_SPECIAL, 0, "text|json", "log format (default text)" },
	{ "-h", F_SPECIAL, 0, NULL, "this help (also --help)" },
};
#undef OFF

void sim_config_usage(FILE *f)
{
	fprintf(f, "usage: ebs-ec2-sim [flags]\n\n"
		   "An EC2 Query API (volumes, snapshots, attachments) and IMDSv2 simulator on one HTTP listener.\n\n");
	for (size_t i = 0; i < sizeof FLAGS / sizeof FLAGS[0]; i++) {
		char lhs[64];
		snprintf(lhs, sizeof lhs, "%s%s%s", FLAGS[i].name, FLAGS[i].arg ? " " : "",
			 FLAGS[i].arg ? FLAGS[i].arg : "");
		fprintf(f, "  %-28s %s\n", lhs, FLAGS[i].help);
	}
}

static int parse_listen(struct sim_config *c, const char *v, struct status *st)
{
	const char *colon = strrchr(v, ':');
	if (colon == NULL || colon == v)
		return status_set(st, STATUS_INVALID_ARGUMENT, "--listen: want HOST:PORT, got '%s'", v);
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port > 65535)
		return status_set(st, STATUS_INVALID_ARGUMENT, "--listen: bad port in '%s'", v);
	free(c->listen_host);
	c->listen_host = xstrndup(v, (size_t)(colon - v));
	c->port = (unsigned)port;
	return 0;
}

int sim_config_parse(int argc, char **argv, struct sim_config *c, FILE *out, struct status *st)
{
	defaults(c);
	char *zones = NULL, *instances = NULL, *imds_instance = NULL;
	int rc = 0;
	for (int i = 1; i < argc && rc == 0; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			sim_config_usage(out);
			rc = 1;
			break;
		}
		const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		const struct flag *fl = NULL;
		for (size_t k = 0; k < sizeof FLAGS / sizeof FLAGS[0] && fl == NULL; k++)
			if (strlen(FLAGS[k].name) == nlen && strncmp(FLAGS[k].name, a, nlen) == 0)
				fl = &FLAGS[k];
		if (fl == NULL) {
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "unknown flag %.*s", (int)nlen, a);
			break;
		}
		const char *v = NULL;
		if (fl->kind == F_BOOL) {
			if (eq != NULL && strcmp(eq + 1, "true") != 0 && strcmp(eq + 1, "false") != 0) {
				rc = status_set(st, STATUS_INVALID_ARGUMENT, "%s takes true or false", fl->name);
				break;
			}
			*(bool *)((char *)c + fl->off) = eq == NULL || strcmp(eq + 1, "true") == 0;
			continue;
		}
		if (eq != NULL)
			v = eq + 1;
		else if (i + 1 < argc)
			v = argv[++i];
		else {
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "flag %s needs a value", fl->name);
			break;
		}
		char *end;
		errno = 0;
		if (fl->kind == F_STR) {
			set_str((char **)((char *)c + fl->off), v);
		} else if (fl->kind == F_LONG) {
			long x = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || errno != 0 || x < 0)
				rc = status_set(st, STATUS_INVALID_ARGUMENT, "%s: '%s' is not a count >= 0", fl->name, v);
			else
				*(long *)((char *)c + fl->off) = x;
		} else if (fl->kind == F_RATE) {
			double x = strtod(v, &end);
			if (*v == '\0' || *end != '\0' || !(x >= 0 && x <= 1))
				rc = status_set(st, STATUS_INVALID_ARGUMENT, "%s: '%s' is not a rate in 0..1", fl->name, v);
			else
				*(double *)((char *)c + fl->off) = x;
		} else if (strcmp(fl->name, "--listen") == 0) {
			rc = parse_listen(c, v, st);
		} else if (strcmp(fl->name, "--zones") == 0) {
			set_str(&zones, v);
		} else if (strcmp(fl->name, "--instances") == 0) {
			set_str(&instances, v);
		} else if (strcmp(fl->name, "--imds-instance") == 0) {
			set_str(&imds_instance, v);
		} else if (strcmp(fl->name, "--attach") == 0) {
			if (strcmp(v, "none") == 0)
				c->attach_mode = SIM_ATTACH_NONE;
			else if (strcmp(v, "loop") == 0)
				c->attach_mode = SIM_ATTACH_LOOP;
			else
				rc = status_set(st, STATUS_INVALID_ARGUMENT, "--attach: want none or loop, got '%s'", v);
		} else if (strcmp(fl->name, "--delay-ms") == 0) {
			long x = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || errno != 0 || x < 0)
				rc = status_set(st, STATUS_INVALID_ARGUMENT, "--delay-ms: '%s' is not a count >= 0", v);
			else
				c->create_delay_ms = c->attach_delay_ms = c->detach_delay_ms = c->snapshot_delay_ms =
					c->modify_delay_ms = c->optimize_delay_ms = x;
		} else if (strcmp(fl->name, "--throttle") == 0) {
			if (sim_fault_parse_throttle(v, &c->faults) != 0)
				rc = status_set(st, STATUS_INVALID_ARGUMENT, "--throttle: want off, aws or CAP/REFILL, got '%s'", v);
		} else if (strcmp(fl->name, "--seed") == 0) {
			unsigned long long x = strtoull(v, &end, 0);
			if (*v == '\0' || *end != '\0' || errno != 0)
				rc = status_set(st, STATUS_INVALID_ARGUMENT, "--seed: '%s' is not a number", v);
			else
				c->seed = x;
		} else if (strcmp(fl->name, "-v") == 0) {
			long x = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || x < 0 || x > 10)
				rc = status_set(st, STATUS_INVALID_ARGUMENT, "-v: '%s' is not a level 0..10", v);
			else
				c->verbosity = (int)x;
		} else if (strcmp(fl->name, "--logging-format") == 0) {
			int fmt = log_format_parse(v);
			if (fmt < 0)
				rc = status_set(st, STATUS_INVALID_ARGUMENT, "--logging-format: want text or json, got '%s'", v);
			else
				c->log_format = fmt;
		}
	}
	if (rc == 0 && !endpoint_region_valid(c->region))
		rc = status_set(st, STATUS_INVALID_ARGUMENT, "--region: '%s' is not a region name", c->region);
	if (rc == 0) {
		if (zones != NULL) {
			struct strv zs;
			strv_init(&zs);
			strv_split(&zs, zones, ',', STRV_SPLIT_SKIP_EMPTY | STRV_SPLIT_TRIM);
			for (size_t i = 0; i < zs.n && rc == 0; i++)
				rc = add_zone(c, zs.v[i], st);
			strv_dispose(&zs);
		} else {
			for (char l = 'a'; l <= 'c' && rc == 0; l++) {
				char z[80];
				snprintf(z, sizeof z, "%s%c", c->region, l);
				rc = add_zone(c, z, st);
			}
		}
		if (rc == 0 && c->n_zones == 0)
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "--zones: no zone given");
	}
	if (rc == 0) {
		if (instances != NULL) {
			rc = sim_config_parse_instances(c, instances, st);
		} else {
			char def[128];
			snprintf(def, sizeof def, "i-0123456789abcdef0:%s:m5.large", c->zones[0].name);
			rc = sim_config_parse_instances(c, def, st);
		}
		if (rc == 0 && c->n_instances == 0)
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "--instances: no instance given");
		for (size_t i = 0; rc == 0 && i < c->n_instances; i++)
			if (sim_config_zone(c, c->instances[i].az) == NULL)
				rc = status_set(st, STATUS_INVALID_ARGUMENT, "--instances: %s is in %s, which is not one of --zones",
						c->instances[i].id, c->instances[i].az);
	}
	if (rc == 0 && imds_instance != NULL) {
		const struct sim_instance *in = sim_config_instance(c, imds_instance);
		if (in == NULL)
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "--imds-instance: %s is not one of --instances",
					imds_instance);
		else
			c->imds_index = (size_t)(in - c->instances);
	}
	if (rc == 0 && (c->access_key[0] == '\0' || c->secret_key[0] == '\0'))
		rc = status_set(st, STATUS_INVALID_ARGUMENT, "--access-key and --secret-key must not be empty");
	if (rc == 0 && c->state_dir[0] == '\0')
		rc = status_set(st, STATUS_INVALID_ARGUMENT, "--state-dir must not be empty");
	free(zones);
	free(instances);
	free(imds_instance);
	return rc;
}
