/*
 * ec2_xml: EC2 Query API responses (XML, 2016-11-15) into the plain structs of
 * cloud.h, one function per action, with expat.
 *
 * Follows aws-facts.md §1.3 and ec2-query-shapes.md: members sit directly under
 * <XResponse>; lists are containers whose children (usually <item>) are taken by
 * position whatever their name; unknown elements are ignored; an element is
 * matched by its full path below the root, so an <item> of an attachmentSet is
 * never taken for a volume. Not here: HTTP, retries, deciding what an answer
 * means to the caller (NotFound on delete is success: the caller's call).
 * Invariants: namespaces are ignored; a DOCTYPE or entity declaration is refused
 * (no entity expansion); nesting deeper than EC2_XML_MAX_DEPTH and element text
 * longer than EC2_XML_TEXT_MAX in a field we read are errors, text of elements
 * we ignore is dropped, so memory stays bounded by what the structs hold.
 * Every function initialises its out-struct first: dispose it in every case.
 *
 * Return values, for every parser below: 0 on success; -1 with
 *   STATUS_INTERNAL naming the action: empty, malformed or truncated XML, an
 *     unexpected root element, a field that does not parse (integer, boolean,
 *     timestamp), a DTD, nesting or text over the bounds;
 *   or the code aws_error gives when the body is an EC2 error document
 *     (<Response><Errors>...) although HTTP said 200.
 * A DryRunOperation error document returns 0 with out left empty.
 */
#ifndef EBS_CLOUD_EC2_XML_H
#define EBS_CLOUD_EC2_XML_H

#include <stddef.h>
#include <stdint.h>

#include "cloud/cloud.h"
#include "common/status.h"

#define EC2_XML_MAX_DEPTH 40
#define EC2_XML_TEXT_MAX 16384

/* CreateVolume: the Volume at the root. */
int ec2_xml_create_volume(const char *body, size_t len, struct cloud_disk *out, struct status *st);
/* CopyVolumes: volumeSet (one volume today). */
int ec2_xml_copy_volumes(const char *body, size_t len, struct cloud_disk_list *out, struct status *st);
/* DescribeVolumes: volumeSet and nextToken. */
int ec2_xml_describe_volumes(const char *body, size_t len, struct cloud_disk_list *out, struct status *st);
/* AttachVolume / DetachVolume (action names which): the VolumeAttachment. */
int ec2_xml_attachment(const char *action, const char *body, size_t len, struct cloud_attachment *out,
		       struct status *st);
/* DeleteVolume, DeleteSnapshot, CreateTags, DeleteTags (action names which):
 * <return>true</return>, which may be absent (mock servers). <return>false</return>
 * gives STATUS_INTERNAL. */
int ec2_xml_return(const char *action, const char *body, size_t len, struct status *st);
/* DescribeInstances: every instance of every reservation, and nextToken. */
int ec2_xml_describe_instances(const char *body, size_t len, struct cloud_instance_list *out, struct status *st);
/* DescribeInstanceTypes: EBS and network facts, and nextToken. */
int ec2_xml_describe_instance_types(const char *body, size_t len, struct cloud_instance_type_list *out,
				    struct status *st);
/* DescribeAvailabilityZones: availabilityZoneInfo. */
int ec2_xml_describe_availability_zones(const char *body, size_t len, struct cloud_zone_list *out,
				       struct status *st);
/* CreateSnapshot: the Snapshot at the root. */
int ec2_xml_create_snapshot(const char *body, size_t len, struct cloud_snapshot *out, struct status *st);
/* DescribeSnapshots: snapshotSet and nextToken. */
int ec2_xml_describe_snapshots(const char *body, size_t len, struct cloud_snapshot_list *out, struct status *st);
/* ModifyVolume: volumeModification. */
int ec2_xml_modify_volume(const char *body, size_t len, struct cloud_modification *out, struct status *st);
/* DescribeVolumesModifications: volumeModificationSet and nextToken. */
int ec2_xml_describe_volumes_modifications(const char *body, size_t len, struct cloud_modification_list *out,
					   struct status *st);
/* DescribeVolumeStatus: volumeStatusSet and nextToken. This shape is not in
 * ec2-query-shapes.md; it follows the EC2 API reference (VolumeStatusItem:
 * volumeId, availabilityZone, volumeStatus/{status, details/item[]/{name,
 * status}}, initializationStatusDetails/{initializationType, progress,
 * estimatedTimeToCompleteInSeconds}). */
int ec2_xml_describe_volume_status(const char *body, size_t len, struct cloud_volume_status_list *out,
				   struct status *st);
/* EnableFastSnapshotRestores: successful and unsuccessful sets (one failed item
 * per zone of fastSnapshotRestoreStateErrorSet). */
int ec2_xml_enable_fsr(const char *body, size_t len, struct cloud_fsr_result *out, struct status *st);

/* Turns a non-2xx answer into a status: the body parsed by aws_error_parse and
 * classified by aws_error_classify (message "<action>: <Code>: <Message>
 * (request id …)"); a body that is not an EC2 error document is classified by
 * http_status alone ("<action>: HTTP <n> without an EC2 error body"). Returns
 * -1, or 0 (st cleared) when the error is DryRunOperation: a DryRun that would
 * have succeeded. */
int ec2_xml_error(const char *action, int http_status, const char *body, size_t len, struct status *st);

/* Parses an EC2 timestamp, "2016-08-29T18:52:32.724Z" or without the
 * fraction, into Unix epoch milliseconds. Returns 0, or -1 when malformed. */
int ec2_xml_parse_time(const char *s, int64_t *ms);

#endif
