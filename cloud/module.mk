# cloud/: everything AWS, nothing of CSI or gRPC.
CLOUD_SRCS += cloud/sigv4.c cloud/endpoint.c cloud/aws_error.c
# openssl: SigV4 (libcrypto). expat: error and response XML. jansson: JSON
# (the SigV4 JSON test-suite contexts now; credential documents later).
MODULE_PKGS_cloud := openssl expat jansson
# The seam's data (cloud.h), the EC2 Query form encoder and response parsers,
# retries/throttling, and the in-memory fake the controller's tests use.
CLOUD_SRCS += cloud/cloud.c cloud/ec2_form.c cloud/ec2_xml.c cloud/ec2_xml_volumes.c cloud/ec2_xml_snapshots.c \
	cloud/ec2_xml_instances.c cloud/retry.c cloud/cloud_fake.c
