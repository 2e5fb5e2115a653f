/*
 * sim_ec2: action table and dispatcher. See sim_ec2.h.
 *
 * The allowed-parameter lists are the request members of the botocore model
 * (reference/ec2-query-shapes.md, including the members newer than Debian's
 * botocore), so a real SDK's request never trips UnknownParameter while a
 * typo in a hand-written client does.
 */
#include "cloud/ec2sim/sim_ec2.h"

#include "cloud/ec2sim/sim_query.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define FILTERS "Filter.N.Name", "Filter.N.Value.N"
#define TAGSPEC "TagSpecification.N.ResourceType", "TagSpecification.N.Tag.N.Key", "TagSpecification.N.Tag.N.Value"
#define PAGING "MaxResults", "NextToken"

static const char *const P_CREATE_VOLUME[] = { "AvailabilityZone", "AvailabilityZoneId", "Encrypted", "Iops",
	"KmsKeyId", "OutpostArn", "Size", "SnapshotId", "VolumeType", TAGSPEC, "MultiAttachEnabled", "Throughput",
	"ClientToken", "VolumeInitializationRate", "Operator.Principal", "DryRun", NULL };
static const char *const P_COPY_VOLUMES[] = { "SourceVolumeId", "Iops", "Size", "VolumeType", "DryRun", TAGSPEC,
	"MultiAttachEnabled", "Throughput", "ClientToken", NULL };
static const char *const P_DELETE_VOLUME[] = { "VolumeId", "DryRun", NULL };
static const char *const P_ATTACH_VOLUME[] = { "Device", "InstanceId", "VolumeId", "EbsCardIndex", "DryRun", NULL };
static const char *const P_DETACH_VOLUME[] = { "Device", "Force", "InstanceId", "VolumeId", "DryRun", NULL };
static const char *const P_DESCRIBE_VOLUMES[] = { "VolumeId.N", "IncludeManagedResources", "DryRun", FILTERS,
	PAGING, NULL };
static const char *const P_DESCRIBE_VOLUME_STATUS[] = { "VolumeId.N", "DryRun", FILTERS, PAGING, NULL };
static const char *const P_DESCRIBE_INSTANCES[] = { "InstanceId.N", "IncludeManagedResources", "DryRun", FILTERS,
	PAGING, NULL };
static const char *const P_DESCRIBE_INSTANCE_TYPES[] = { "InstanceType.N", "IncludeUnsupportedInRegion", "DryRun",
	FILTERS, PAGING, NULL };
static const char *const P_DESCRIBE_AZS[] = { "ZoneName.N", "ZoneId.N", "AllAvailabilityZones", "DryRun", FILTERS,
	NULL };
static const char *const P_CREATE_SNAPSHOT[] = { "Description", "OutpostArn", "VolumeId", TAGSPEC, "Location",
	"DryRun", NULL };
static const char *const P_DELETE_SNAPSHOT[] = { "SnapshotId", "DryRun", NULL };
static const char *const P_DESCRIBE_SNAPSHOTS[] = { PAGING, "Owner.N", "RestorableBy.N", "SnapshotId.N", "DryRun",
	FILTERS, NULL };
static const char *const P_FSR[] = { "AvailabilityZone.N", "AvailabilityZoneId.N", "SourceSnapshotId.N", "DryRun",
	NULL };
static const char *const P_DESCRIBE_FSR[] = { FILTERS, PAGING, "DryRun", NULL };
static const char *const P_MODIFY_VOLUME[] = { "DryRun", "VolumeId", "Size", "VolumeType", "Iops", "Throughput",
	"MultiAttachEnabled", NULL };
static const char *const P_DESCRIBE_MODS[] = { "DryRun", "VolumeId.N", FILTERS, PAGING, NULL };
static const char *const P_TAGS[] = { "DryRun", "ResourceId.N", "Tag.N.Key", "Tag.N.Value", NULL };
static const char *const P_DESCRIBE_TAGS[] = { "DryRun", FILTERS, PAGING, NULL };

struct action {
	const char *name;
	int (*fn)(struct sim_call *c, struct sim_err *e);
	const char *const *params;
};

static const struct action ACTIONS[] = {
	{ "CreateVolume", sim_act_create_volume, P_CREATE_VOLUME },
	{ "CopyVolumes", sim_act_copy_volumes, P_COPY_VOLUMES },
	{ "DeleteVolume", sim_act_delete_volume, P_DELETE_VOLUME },
	{ "AttachVolume", sim_act_attach_volume, P_ATTACH_VOLUME },
	{ "DetachVolume", sim_act_detach_volume, P_DETACH_VOLUME },
	{ "DescribeVolumes", sim_act_describe_volumes, P_DESCRIBE_VOLUMES },
	{ "DescribeVolumeStatus", sim_act_describe_volume_status, P_DESCRIBE_VOLUME_STATUS },
	{ "DescribeInstances", sim_act_describe_instances, P_DESCRIBE_INSTANCES },
	{ "DescribeInstanceTypes", sim_act_describe_instance_types, P_DESCRIBE_INSTANCE_TYPES },
	{ "DescribeAvailabilityZones", sim_act_describe_availability_zones, P_DESCRIBE_AZS },
	{ "CreateSnapshot", sim_act_create_snapshot, P_CREATE_SNAPSHOT },
	{ "DeleteSnapshot", sim_act_delete_snapshot, P_DELETE_SNAPSHOT },
	{ "DescribeSnapshots", sim_act_describe_snapshots, P_DESCRIBE_SNAPSHOTS },
	{ "EnableFastSnapshotRestores", sim_act_enable_fsr, P_FSR },
	{ "DisableFastSnapshotRestores", sim_act_disable_fsr, P_FSR },
	{ "DescribeFastSnapshotRestores", sim_act_describe_fsr, P_DESCRIBE_FSR },
	{ "ModifyVolume", sim_act_modify_volume, P_MODIFY_VOLUME },
	{ "DescribeVolumesModifications", sim_act_describe_volumes_modifications, P_DESCRIBE_MODS },
	{ "CreateTags", sim_act_create_tags, P_TAGS },
	{ "DeleteTags", sim_act_delete_tags, P_TAGS },
	{ "DescribeTags", sim_act_describe_tags, P_DESCRIBE_TAGS },
};

static const struct action *find_action(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof ACTIONS / sizeof ACTIONS[0]; i++)
		if (strcmp(ACTIONS[i].name, name) == 0)
			return &ACTIONS[i];
	return NULL;
}

static int run_action(struct sim *s, const struct action *act, const struct sim_form *f, struct buf *members,
		      struct sim_err *e)
{
	if (sim_form_check_allowed(f, act->params, e) != 0)
		return -1;
	int64_t now = sim_now_ms();
	if (sim_faults_throttled(&s->faults, act->name, f, now))
		return sim_err_set(e, 503, "RequestLimitExceeded", "Request limit exceeded.");
	struct sim_fault_config fc;
	sim_faults_get(&s->faults, &fc);
	if (sim_faults_draw(&s->faults, fc.fail_rate)) {
		if (sim_faults_random(&s->faults) & 1)
			return sim_err_set(e, 500, "InternalError", "An internal error has occurred");
		return sim_err_set(e, 503, "Unavailable", "The server is overloaded and can't handle the request");
	}
	struct sim_call c = { .sim = s, .form = f, .action = act->name, .out = members };
	if (sim_form_bool(f, "DryRun", &c.dry_run, NULL, e) != 0)
		return -1;
	pthread_mutex_lock(&s->lock);
	c.now = sim_now_ms();
	bool advanced = sim_advance(s, c.now);
	int rc = act->fn(&c, e);
	if (rc == 0 && c.mutated && c.dry_run) {
		log_error("%s mutated state on a DryRun call", act->name);  /* a handler bug */
	}
	if (c.mutated || advanced) {
		struct status st = STATUS_INIT;
		if (sim_save(s, &st) != 0) {
			log_error("save state after %s: %s", act->name, st.msg);
			if (rc == 0 && c.mutated)
				rc = sim_err_set(e, 500, "InternalError", "An internal error has occurred");
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sim_ec2_handle(struct sim *s, const struct sim_form *f, const char *request_id, struct buf *resp,
		   const char **action, char *outcome, size_t outcome_cap)
{
	struct sim_err e = { 0 };
	struct buf members;
	buf_init(&members);
	const char *name = sim_form_get(f, "Action");
	*action = name;
	const struct action *act = find_action(name);
	const char *version = sim_form_get(f, "Version");
	int rc;
	if (name == NULL || *name == '\0')
		rc = sim_err_set(&e, 400, "MissingAction", "The request must contain the parameter Action");
	else if (act == NULL)
		rc = sim_err_set(&e, 400, "InvalidAction", "The action %s is not valid for this web service.", name);
	else if (version == NULL)
		rc = sim_err_set(&e, 400, "MissingParameter", "The request must contain the parameter Version");
	else if (strcmp(version, "2016-11-15") != 0)
		rc = sim_err_value(&e, "Version %s is not supported by this simulator (2016-11-15 is)", version);
	else
		rc = run_action(s, act, f, &members, &e);
	int http;
	if (rc == 0) {
		buf_reset(resp);
		sim_xml_begin(resp, act->name, request_id);
		buf_append(resp, members.data, members.len);
		sim_xml_end(resp, act->name);
		snprintf(outcome, outcome_cap, "ok");
		http = 200;
	} else {
		sim_xml_error(resp, e.code, e.msg, request_id);
		snprintf(outcome, outcome_cap, "%s", e.code);
		http = e.http ? e.http : 400;
		if (http != 412)
			log_v(1, "%s: %d %s: %s", name ? name : "-", http, e.code, e.msg);
	}
	if (act != NULL)
		*action = act->name;
	buf_dispose(&members);
	return http;
}

void sim_ec2_write_tags(struct buf *b, const struct sim_tags *t)
{
	if (t->n == 0)
		return;
	sim_xml_open(b, "tagSet");
	for (size_t i = 0; i < t->n; i++) {
		sim_xml_open(b, "item");
		sim_xml_str(b, "key", t->v[i].key);
		sim_xml_str(b, "value", t->v[i].value);
		sim_xml_close(b, "item");
	}
	sim_xml_close(b, "tagSet");
}

void sim_ec2_write_attachment(struct buf *b, const char *volume_id, const struct sim_attachment *a)
{
	sim_xml_str(b, "volumeId", volume_id);
	sim_xml_str(b, "instanceId", a->instance_id);
	sim_xml_str(b, "device", a->device);
	sim_xml_str(b, "status", sim_att_status_name(a->status));
	sim_xml_time(b, "attachTime", a->attach_ms);
	sim_xml_bool(b, "deleteOnTermination", false);
}

void sim_ec2_write_volume(struct buf *b, const struct sim_call *c, const struct sim_volume *v)
{
	sim_xml_str(b, "volumeId", v->id);
	sim_xml_int(b, "size", v->spec.size);
	sim_xml_str(b, "snapshotId", v->snapshot_id ? v->snapshot_id : "");
	sim_xml_str(b, "availabilityZone", v->az);
	const struct sim_zone *z = sim_config_zone(c->sim->cfg, v->az);
	if (z != NULL)
		sim_xml_str(b, "availabilityZoneId", z->id);
	sim_xml_str(b, "status", sim_volume_status_name(v));
	sim_xml_time(b, "createTime", v->create_ms);
	sim_xml_open(b, "attachmentSet");
	for (size_t i = 0; i < v->n_att; i++) {
		sim_xml_open(b, "item");
		sim_ec2_write_attachment(b, v->id, &v->att[i]);
		sim_xml_close(b, "item");
	}
	sim_xml_close(b, "attachmentSet");
	sim_ec2_write_tags(b, &v->tags);
	sim_xml_str(b, "volumeType", v->spec.type);
	if (v->spec.iops > 0)
		sim_xml_int(b, "iops", v->spec.iops);
	if (v->spec.throughput > 0)
		sim_xml_int(b, "throughput", v->spec.throughput);
	sim_xml_bool(b, "encrypted", v->encrypted);
	sim_xml_str(b, "kmsKeyId", v->kms_key_id);
	sim_xml_bool(b, "multiAttachEnabled", v->spec.multi_attach);
	sim_xml_bool(b, "fastRestored", false);
	sim_xml_str(b, "sourceVolumeId", v->source_volume_id);
}
