/*
 * sim_instances: DescribeInstances, DescribeInstanceTypes and
 * DescribeAvailabilityZones — the fixed world of --instances and --zones.
 *
 * Instances are always running; each is its own reservation. Its block device
 * mapping lists the root device and every current attachment, as EC2 does.
 * Instance types come from sim_rules' small table (the Nitro default for the
 * rest), which is enough for the driver's attach-limit logic.
 */
#include "cloud/ec2sim/sim_ec2.h"

#include "cloud/ec2sim/sim_query.h"
#include "cloud/ec2sim/sim_rules.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_names(const struct sim_filters *fs, const char *const *names, struct sim_err *e)
{
	for (size_t i = 0; i < fs->n; i++) {
		bool ok = false;
		for (size_t k = 0; names[k] && !ok; k++)
			ok = strcmp(names[k], fs->v[i].name) == 0;
		if (!ok)
			return sim_err_value(e, "The filter '%s' is invalid", fs->v[i].name);
	}
	return 0;
}

static void write_instance(struct buf *b, const struct sim_call *c, const struct sim_instance *in, size_t idx)
{
	const struct sim_state *st = &c->sim->st;
	struct sim_instance_type_info ti;
	sim_rules_instance_type(in->type, &ti);
	const struct sim_zone *z = sim_config_zone(c->sim->cfg, in->az);
	sim_xml_str(b, "instanceId", in->id);
	sim_xml_str(b, "imageId", "ami-0e5e0000000000001");
	buf_puts(b, "<instanceState><code>16</code><name>running</name></instanceState>");
	char ipd[16], dns[64];
	snprintf(ipd, sizeof ipd, "%s", in->ip);
	for (char *p = ipd; *p; p++)
		if (*p == '.')
			*p = '-';
	snprintf(dns, sizeof dns, "ip-%s.ec2.internal", ipd);
	sim_xml_str(b, "privateDnsName", dns);
	sim_xml_str(b, "dnsName", "");
	sim_xml_int(b, "amiLaunchIndex", 0);
	sim_xml_str(b, "instanceType", in->type);
	sim_xml_time(b, "launchTime", in->launch_ms);
	sim_xml_open(b, "placement");
	sim_xml_str(b, "availabilityZone", in->az);
	if (z != NULL)
		sim_xml_str(b, "availabilityZoneId", z->id);
	sim_xml_str(b, "groupName", "");
	sim_xml_str(b, "tenancy", "default");
	sim_xml_close(b, "placement");
	buf_puts(b, "<monitoring><state>disabled</state></monitoring>");
	sim_xml_str(b, "subnetId", "subnet-0e5e0000000000001");
	sim_xml_str(b, "vpcId", "vpc-0e5e0000000000001");
	sim_xml_str(b, "privateIpAddress", in->ip);
	sim_xml_str(b, "architecture", ti.arch);
	sim_xml_str(b, "rootDeviceType", "ebs");
	sim_xml_str(b, "rootDeviceName", in->root_device);
	sim_xml_open(b, "blockDeviceMapping");
	for (size_t i = 0; i < st->n_vols; i++) {
		const struct sim_attachment *a = sim_volume_attachment(st->vols[i], in->id);
		if (a == NULL)
			continue;
		sim_xml_open(b, "item");
		sim_xml_str(b, "deviceName", a->device);
		sim_xml_open(b, "ebs");
		sim_xml_str(b, "volumeId", st->vols[i]->id);
		sim_xml_str(b, "status", a->status == SIM_ATT_BUSY ? "detaching" : sim_att_status_name(a->status));
		sim_xml_time(b, "attachTime", a->attach_ms);
		sim_xml_bool(b, "deleteOnTermination", false);
		sim_xml_close(b, "ebs");
		sim_xml_close(b, "item");
	}
	sim_xml_close(b, "blockDeviceMapping");
	sim_xml_str(b, "virtualizationType", "hvm");
	sim_xml_str(b, "hypervisor", "xen");
	sim_xml_bool(b, "ebsOptimized", true);
	sim_xml_bool(b, "enaSupport", true);
	sim_xml_open(b, "networkInterfaceSet");
	for (int n = 0; n < in->n_enis; n++) {
		sim_xml_open(b, "item");
		buf_printf(b, "<networkInterfaceId>eni-0e5e%04x%09x</networkInterfaceId>", (unsigned)idx, (unsigned)n);
		char mac[18];
		sim_config_eni_mac(in, n, mac);
		sim_xml_str(b, "macAddress", mac);
		sim_xml_str(b, "status", "in-use");
		buf_printf(b, "<attachment><deviceIndex>%d</deviceIndex><status>attached</status>"
			      "<networkCardIndex>0</networkCardIndex></attachment>", n);
		sim_xml_close(b, "item");
	}
	sim_xml_close(b, "networkInterfaceSet");
	sim_xml_open(b, "metadataOptions");
	sim_xml_str(b, "state", "applied");
	sim_xml_str(b, "httpTokens", c->sim->cfg->imds_v1 ? "optional" : "required");
	sim_xml_int(b, "httpPutResponseHopLimit", 2);
	sim_xml_str(b, "httpEndpoint", "enabled");
	sim_xml_close(b, "metadataOptions");
}

static bool instance_matches(const struct sim_call *c, const struct sim_instance *in, const struct sim_filters *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		const struct sim_filter *fl = &fs->v[i];
		bool ok = false;
		if (strcmp(fl->name, "block-device-mapping.volume-id") == 0) {
			for (size_t v = 0; v < c->sim->st.n_vols && !ok; v++)
				ok = sim_volume_attachment(c->sim->st.vols[v], in->id) != NULL &&
				     sim_query_match(&fl->values, c->sim->st.vols[v]->id);
		} else {
			const char *val = strcmp(fl->name, "instance-id") == 0 ? in->id
					  : strcmp(fl->name, "availability-zone") == 0 ? in->az
					  : strcmp(fl->name, "instance-type") == 0 ? in->type
					  : strcmp(fl->name, "private-ip-address") == 0 ? in->ip
											 : "running";
			ok = sim_query_match(&fl->values, val);
		}
		if (!ok)
			return false;
	}
	return true;
}

int sim_act_describe_instances(struct sim_call *c, struct sim_err *e)
{
	static const char *const names[] = { "instance-id", "availability-zone", "instance-type",
		"instance-state-name", "block-device-mapping.volume-id", "private-ip-address", NULL };
	const struct sim_config *cfg = c->sim->cfg;
	struct strv ids;
	strv_init(&ids);
	sim_form_list(c->form, "InstanceId", &ids);
	struct sim_filters fs = { 0 };
	int rc = sim_form_filters(c->form, &fs, e);
	if (rc == 0)
		rc = check_names(&fs, names, e);
	if (rc == 0 && ids.n > 0 && sim_form_get(c->form, "MaxResults") != NULL)
		rc = sim_err_set(e, 400, "InvalidParameterCombination",
				 "The parameter instancesSet cannot be used with the parameter maxResults");
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		if (strncmp(ids.v[i], "i-", 2) != 0)
			rc = sim_err_set(e, 400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", ids.v[i]);
		else if (sim_config_instance(cfg, ids.v[i]) == NULL)
			rc = sim_err_set(e, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist",
					 ids.v[i]);
	}
	const struct sim_instance **sel = NULL;
	size_t k = 0, start = 0, end = 0;
	char *next = NULL;
	if (rc == 0) {
		sel = xcalloc(cfg->n_instances + 1, sizeof *sel);
		for (size_t i = 0; i < cfg->n_instances; i++) {
			const struct sim_instance *in = &cfg->instances[i];
			if ((ids.n == 0 || strv_contains(&ids, in->id)) && instance_matches(c, in, &fs))
				sel[k++] = in;
		}
		rc = sim_query_page_by_id((void **)sel, k, c->form, 5, 1000, &start, &end, &next, e);
	}
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc == 0) {
		sim_xml_open(c->out, "reservationSet");
		for (size_t i = start; i < end; i++) {
			size_t idx = (size_t)(sel[i] - cfg->instances);
			sim_xml_open(c->out, "item");
			buf_printf(c->out, "<reservationId>r-0e5e%013zx</reservationId>", idx);
			sim_xml_str(c->out, "ownerId", cfg->account_id);
			buf_puts(c->out, "<groupSet/><instancesSet><item>");
			write_instance(c->out, c, sel[i], idx);
			buf_puts(c->out, "</item></instancesSet>");
			sim_xml_close(c->out, "item");
		}
		sim_xml_close(c->out, "reservationSet");
		sim_xml_str(c->out, "nextToken", next);
	}
	free(next);
	free(sel);
	sim_filters_dispose(&fs);
	strv_dispose(&ids);
	return rc;
}

static void write_instance_type(struct buf *b, const char *type)
{
	struct sim_instance_type_info ti;
	sim_rules_instance_type(type, &ti);
	bool nitro = strcmp(ti.hypervisor, "nitro") == 0;
	sim_xml_str(b, "instanceType", type);
	sim_xml_bool(b, "currentGeneration", true);
	sim_xml_bool(b, "bareMetal", false);
	sim_xml_str(b, "hypervisor", ti.hypervisor);
	buf_printf(b, "<processorInfo><supportedArchitectures><item>%s</item></supportedArchitectures></processorInfo>",
		   ti.arch);
	buf_printf(b, "<vCpuInfo><defaultVCpus>%d</defaultVCpus></vCpuInfo>", ti.vcpus);
	buf_printf(b, "<memoryInfo><sizeInMiB>%d</sizeInMiB></memoryInfo>", ti.memory_mib);
	sim_xml_bool(b, "instanceStorageSupported", false);
	sim_xml_open(b, "ebsInfo");
	sim_xml_str(b, "ebsOptimizedSupport", "default");
	sim_xml_str(b, "encryptionSupport", "supported");
	sim_xml_str(b, "nvmeSupport", nitro ? "required" : "unsupported");
	sim_xml_int(b, "maximumEbsAttachments", ti.max_attachments);
	sim_xml_str(b, "attachmentLimitType", ti.dedicated ? "dedicated" : "shared");
	sim_xml_int(b, "maximumEbsCards", 1);
	sim_xml_close(b, "ebsInfo");
	buf_printf(b, "<networkInfo><maximumNetworkInterfaces>%d</maximumNetworkInterfaces>"
		      "<maximumNetworkCards>1</maximumNetworkCards><defaultNetworkCardIndex>0</defaultNetworkCardIndex>"
		      "<ipv6Supported>true</ipv6Supported><enaSupport>required</enaSupport></networkInfo>",
		   ti.max_enis);
}

int sim_act_describe_instance_types(struct sim_call *c, struct sim_err *e)
{
	static const char *const names[] = { "instance-type", "hypervisor", "ebs-info.nvme-support",
		"ebs-info.attachment-limit-type", NULL };
	const struct sim_config *cfg = c->sim->cfg;
	struct strv types;
	strv_init(&types);
	sim_form_list(c->form, "InstanceType", &types);
	struct sim_filters fs = { 0 };
	int rc = sim_form_filters(c->form, &fs, e);
	if (rc == 0)
		rc = check_names(&fs, names, e);
	struct strv sel;
	strv_init(&sel);
	if (types.n == 0)
		for (size_t i = 0; i < cfg->n_instances; i++)
			strv_push(&types, cfg->instances[i].type);
	strv_sort(&types);
	strv_uniq(&types);
	for (size_t i = 0; rc == 0 && i < types.n; i++) {
		struct sim_instance_type_info ti;
		sim_rules_instance_type(types.v[i], &ti);
		bool ok = true;
		for (size_t k = 0; k < fs.n && ok; k++) {
			const char *n = fs.v[k].name;
			const char *val = strcmp(n, "instance-type") == 0 ? types.v[i]
					  : strcmp(n, "hypervisor") == 0  ? ti.hypervisor
					  : strcmp(n, "ebs-info.nvme-support") == 0
						  ? (strcmp(ti.hypervisor, "nitro") == 0 ? "required" : "unsupported")
						  : (ti.dedicated ? "dedicated" : "shared");
			ok = sim_query_match(&fs.v[k].values, val);
		}
		if (ok)
			strv_push(&sel, types.v[i]);
	}
	size_t start = 0, end = 0;
	char *next = NULL;
	if (rc == 0)
		rc = sim_query_page((const char *const *)sel.v, sel.n, c->form, 5, 100, &start, &end, &next, e);
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc == 0) {
		sim_xml_open(c->out, "instanceTypeSet");
		for (size_t i = start; i < end; i++) {
			sim_xml_open(c->out, "item");
			write_instance_type(c->out, sel.v[i]);
			sim_xml_close(c->out, "item");
		}
		sim_xml_close(c->out, "instanceTypeSet");
		sim_xml_str(c->out, "nextToken", next);
	}
	free(next);
	strv_dispose(&sel);
	strv_dispose(&types);
	sim_filters_dispose(&fs);
	return rc;
}

int sim_act_describe_availability_zones(struct sim_call *c, struct sim_err *e)
{
	static const char *const names[] = { "zone-name", "zone-id", "region-name", "state", "zone-type",
		"opt-in-status", "group-name", NULL };
	const struct sim_config *cfg = c->sim->cfg;
	struct strv znames, zids;
	strv_init(&znames);
	strv_init(&zids);
	sim_form_list(c->form, "ZoneName", &znames);
	sim_form_list(c->form, "ZoneId", &zids);
	struct sim_filters fs = { 0 };
	bool all = false;
	int rc = sim_form_filters(c->form, &fs, e);
	if (rc == 0)
		rc = sim_form_bool(c->form, "AllAvailabilityZones", &all, NULL, e);
	if (rc == 0)
		rc = check_names(&fs, names, e);
	for (size_t i = 0; rc == 0 && i < znames.n; i++)
		if (sim_config_zone(cfg, znames.v[i]) == NULL)
			rc = sim_err_value(e, "The zone '%s' does not exist", znames.v[i]);
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc == 0) {
		sim_xml_open(c->out, "availabilityZoneInfo");
		for (size_t i = 0; i < cfg->n_zones; i++) {
			const struct sim_zone *z = &cfg->zones[i];
			if (znames.n > 0 && !strv_contains(&znames, z->name))
				continue;
			if (zids.n > 0 && !strv_contains(&zids, z->id))
				continue;
			bool ok = true;
			for (size_t k = 0; k < fs.n && ok; k++) {
				const char *n = fs.v[k].name;
				const char *val = strcmp(n, "zone-name") == 0     ? z->name
						  : strcmp(n, "zone-id") == 0     ? z->id
						  : strcmp(n, "region-name") == 0 ? cfg->region
						  : strcmp(n, "state") == 0       ? "available"
						  : strcmp(n, "zone-type") == 0   ? "availability-zone"
						  : strcmp(n, "opt-in-status") == 0 ? "opt-in-not-required"
										    : cfg->region;
				ok = sim_query_match(&fs.v[k].values, val);
			}
			if (!ok)
				continue;
			sim_xml_open(c->out, "item");
			sim_xml_str(c->out, "zoneName", z->name);
			sim_xml_str(c->out, "zoneState", "available");
			sim_xml_str(c->out, "regionName", cfg->region);
			sim_xml_str(c->out, "zoneId", z->id);
			sim_xml_str(c->out, "zoneType", "availability-zone");
			sim_xml_str(c->out, "groupName", cfg->region);
			sim_xml_str(c->out, "networkBorderGroup", cfg->region);
			sim_xml_str(c->out, "optInStatus", "opt-in-not-required");
			buf_puts(c->out, "<messageSet/>");
			sim_xml_close(c->out, "item");
		}
		sim_xml_close(c->out, "availabilityZoneInfo");
	}
	strv_dispose(&znames);
	strv_dispose(&zids);
	sim_filters_dispose(&fs);
	return rc;
}
