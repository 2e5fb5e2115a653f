#!/bin/sh
# Checks the module dependency rules of DESIGN.md §2 on the #include lines:
#   common → libc only; cloud → common; cloud/ec2sim → cloud, common; k8s → cloud/http.h, common;
#   node → common, node (and the generated CSI types); controller → common,
#   controller, cloud/cloud.h (and the generated CSI types); csi-proto → anything
#   but cmd; gRPC headers only in csi-proto/ (and its tests and the benchmark client).
# Prints each violation and exits 1 if there is any.
cd "$(dirname "$0")/.." || exit 2
fail=0
check() { # dir allowed-regex description
	dir=$1 allowed=$2
	[ -d "$dir" ] || return 0
	for f in $(if [ -n "$4" ]; then find "$dir" -name '*.[ch]' -not -path "$4"; else find "$dir" -name '*.[ch]'; fi); do
		grep -n '^#include "' "$f" | sed 's/^\([0-9]*\):#include "\([^"]*\)".*/\1 \2/' | while read -r line inc; do
			case "$inc" in
			*/*) echo "$inc" | grep -Eq "^($allowed)" || { echo "$f:$line: includes \"$inc\" ($3)"; echo x >> .layering.fail; } ;;
			esac
		done
	done
}
rm -f .layering.fail
check common 'common/' 'common may include only common/'
check cloud 'common/|cloud/' 'cloud may include only common/ and cloud/' 'cloud/ec2sim/*'
check cloud/ec2sim 'common/|cloud/' 'ebs-ec2-sim may include only common/ and cloud/'
check k8s 'common/|k8s/|cloud/http.h' 'k8s may include only common/, k8s/ and cloud/http.h'
check node 'common/|node/|google/protobuf/' 'node may include only common/ and node/'
check controller 'common/|controller/|cloud/cloud.h|google/protobuf/' 'controller may include only common/, controller/ and cloud/cloud.h'
check csi-proto 'common/|csi-proto/|controller/|node/|cloud/|google/protobuf/' 'csi-proto may not include cmd/'
# gRPC C core headers: csi-proto only.
for f in $(grep -rl '#include <grpc/' --include='*.[ch]' . 2>/dev/null | grep -v '^./build/' | grep -v '^./csi-proto/' | grep -v '^./tests/csi-proto/' | grep -v '^./tests/bench/'); do
	echo "$f: includes a gRPC header outside csi-proto/"
	echo x >> .layering.fail
done
if [ -f .layering.fail ]; then
	rm -f .layering.fail
	echo "layering: violations found"
	exit 1
fi
echo "layering: ok"
