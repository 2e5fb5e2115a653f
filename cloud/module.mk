# cloud/: everything AWS, nothing of CSI or gRPC.
CLOUD_SRCS += cloud/sigv4.c cloud/endpoint.c cloud/aws_error.c cloud/xml_guard.c
# openssl: SigV4 (libcrypto). expat: error and response XML. jansson: JSON
# (the SigV4 JSON test-suite contexts now; credential documents later).
MODULE_PKGS_cloud := openssl expat jansson
# The seam's data (cloud.h), the EC2 Query form encoder and response parsers,
# retries/throttling, and the in-memory fake the controller's tests use.
CLOUD_SRCS += cloud/cloud.c cloud/ec2_form.c cloud/ec2_xml.c cloud/ec2_xml_volumes.c cloud/ec2_xml_snapshots.c \
	cloud/ec2_xml_instances.c cloud/retry.c cloud/cloud_fake.c
# HTTP client (libcurl), IMDSv2 client, AWS shared config/credentials files and
# the credential chain (environment, web identity, profile, container, IMDS).
CLOUD_SRCS += cloud/http.c cloud/imds.c cloud/ini.c cloud/creds.c cloud/creds_sts.c cloud/creds_http.c \
	cloud/creds_file.c
MODULE_PKGS_cloud += libcurl
# The AWS implementation of the seam (cloud_aws*.c by concern), the Describe
# batcher and device-name allocation it uses.
CLOUD_SRCS += cloud/cloud_aws.c cloud/cloud_aws_request.c cloud/cloud_aws_volumes.c cloud/cloud_aws_attach.c \
	cloud/cloud_aws_snapshots.c cloud/cloud_aws_modify.c cloud/cloud_aws_misc.c cloud/batcher.c cloud/devname.c
