#!/bin/sh
# `make run`: the whole driver on this machine. Starts ebs-ec2-sim (EC2 + IMDS on
# loopback; with real loop devices when run as root), points the driver's normal
# AWS code path at it through the standard AWS environment variables, and runs
# `ebs-csi-driver all` on ./run/csi.sock until Ctrl-C. Everything lives under
# ./run: the simulator's state (kept across runs), its by-id links, the socket.
set -eu
BUILD=${BUILD:-build}
RUN=${RUN_DIR:-$(pwd)/run}
DEVDIR="$RUN/dev/disk/by-id"
mkdir -p "$RUN" "$DEVDIR"
rm -f "$RUN/ec2sim.port"

attach=none
if [ "$(id -u)" = 0 ] && [ -e /dev/loop-control ]; then
	attach=loop
fi

"$BUILD/ebs-ec2-sim" --listen 127.0.0.1:0 --port-file "$RUN/ec2sim.port" --state-dir "$RUN/ec2sim" \
	--attach "$attach" --dev-dir "$DEVDIR" --delay-ms "${SIM_DELAY_MS:-200}" &
SIM=$!
stop_sim() {
	kill -TERM "$SIM" 2>/dev/null || true
	wait "$SIM" 2>/dev/null || true
}
trap stop_sim EXIT
trap 'exit 0' INT TERM

i=0
while [ ! -s "$RUN/ec2sim.port" ]; do
	i=$((i + 1))
	if [ "$i" -gt 200 ] || ! kill -0 "$SIM" 2>/dev/null; then
		echo "run-local: ebs-ec2-sim did not start" >&2
		exit 1
	fi
	sleep 0.05
done
PORT=$(cat "$RUN/ec2sim.port")
echo "run-local: ebs-ec2-sim on http://127.0.0.1:$PORT (attach=$attach, state in $RUN/ec2sim)"

# The simulator's documented local credentials (not secrets).
export AWS_ENDPOINT_URL_EC2="http://127.0.0.1:$PORT"
export AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$PORT"
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=AKIAEBSSIMULATOR0000
export AWS_SECRET_ACCESS_KEY=ebs-ec2-sim-local-secret-key-not-a-secret
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE 2>/dev/null || true

echo "run-local: ebs-csi-driver all on unix://$RUN/csi.sock (Ctrl-C stops both; try \`make demo\` in another terminal)"
"$BUILD/ebs-csi-driver" all --endpoint "unix://$RUN/csi.sock" --by-id-dir "$DEVDIR" --state-dir "$RUN/state" "$@"
