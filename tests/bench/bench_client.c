/*
 * bench_client: a load and latency client on the gRPC C core, for
 * tests/bench/bench.py. It exists because Python grpcio spends more CPU per
 * call than the driver does, so a Python client measures mostly itself.
 *
 * Requests are empty protobuf messages (ProbeRequest, NodeGetInfoRequest,
 * GetPluginInfoRequest, ... have no required fields), so no protobuf code is
 * needed: zero bytes are sent and only the status code is checked.
 *
 *   bench_client TARGET latency N METHOD
 *       N sequential calls on one channel (after 200 warm-up calls); prints
 *       "ok=N err=E p50_us=.. p99_us=.. mean_us=.."
 *   bench_client TARGET load SECONDS THREADS METHOD[,METHOD...]
 *       THREADS threads, each with its own channel and connection, call the
 *       methods round-robin for SECONDS; prints "ok=N err=E seconds=S"
 *
 * TARGET is a gRPC address such as unix:/tmp/csi.sock. Same C core API as
 * tests/csi-proto/helper_client.c, with one completion queue per thread.
 * Built by bench.py into build/bench/bench_client; not part of the driver.
 */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct conn {
	grpc_channel *ch;
	grpc_completion_queue *cq;
};

static void conn_open(struct conn *c, const char *target)
{
	/* A local subchannel pool: each channel gets its own connection, as
	 * separate client processes (kubelet, sidecars, probes) would. */
	grpc_arg arg;
	arg.type = GRPC_ARG_INTEGER;
	arg.key = (char *)"grpc.use_local_subchannel_pool";
	arg.value.integer = 1;
	grpc_channel_args args = { 1, &arg };
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	c->ch = grpc_channel_create(target, creds, &args);
	grpc_channel_credentials_release(creds);
	c->cq = grpc_completion_queue_create_for_next(NULL);
}

static void conn_close(struct conn *c)
{
	grpc_channel_destroy(c->ch);
	grpc_completion_queue_shutdown(c->cq);
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
	}
	grpc_completion_queue_destroy(c->cq);
}

/* One unary call with an empty request; returns the status code. */
static int call(struct conn *c, grpc_slice method)
{
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(30, GPR_TIMESPAN));
	grpc_call *cl = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq, method, NULL, deadline,
						 NULL);
	grpc_metadata_array init_md, trail_md;
	grpc_metadata_array_init(&init_md);
	grpc_metadata_array_init(&trail_md);
	grpc_slice empty = grpc_empty_slice();
	grpc_byte_buffer *send_bb = grpc_raw_byte_buffer_create(&empty, 1);
	grpc_byte_buffer *recv_bb = NULL;
	grpc_status_code code = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_op ops[6];
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send_bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv_bb;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;
	ops[5].data.recv_status_on_client.status = &code;
	ops[5].data.recv_status_on_client.status_details = &details;
	int tag = 1;
	if (grpc_call_start_batch(cl, ops, 6, &tag, NULL) == GRPC_CALL_OK)
		grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	grpc_slice_unref(details);
	grpc_byte_buffer_destroy(send_bb);
	if (recv_bb)
		grpc_byte_buffer_destroy(recv_bb);
	grpc_metadata_array_destroy(&init_md);
	grpc_metadata_array_destroy(&trail_md);
	grpc_call_unref(cl);
	return (int)code;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int latency(const char *target, long n, const char *method)
{
	struct conn c;
	conn_open(&c, target);
	grpc_slice m = grpc_slice_from_copied_string(method);
	long err = 0;
	for (int i = 0; i < 200; i++)
		call(&c, m);
	double *lat = calloc((size_t)n, sizeof *lat);
	double sum = 0;
	for (long i = 0; i < n; i++) {
		double t = now_s();
		if (call(&c, m) != GRPC_STATUS_OK)
			err++;
		lat[i] = (now_s() - t) * 1e6;
		sum += lat[i];
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp_double);
	double p50 = n % 2 ? lat[n / 2] : (lat[n / 2 - 1] + lat[n / 2]) / 2;
	long i99 = (long)((double)n * 0.99) - 1;
	printf("ok=%ld err=%ld p50_us=%.1f p99_us=%.1f mean_us=%.1f\n", n - err, err, p50, lat[i99 < 0 ? 0 : i99],
	       sum / (double)n);
	free(lat);
	grpc_slice_unref(m);
	conn_close(&c);
	return 0;
}

struct load_arg {
	const char *target;
	grpc_slice *methods;
	size_t n_methods;
	long ok, err;
};

static atomic_int ready, stopping;

static void *load_thread(void *p)
{
	struct load_arg *a = p;
	struct conn c;
	conn_open(&c, a->target);
	call(&c, a->methods[0]); /* connect before the clock runs */
	atomic_fetch_add(&ready, 1);
	while (!atomic_load(&stopping)) {
		for (size_t i = 0; i < a->n_methods; i++) {
			if (call(&c, a->methods[i]) == GRPC_STATUS_OK)
				a->ok++;
			else
				a->err++;
		}
	}
	conn_close(&c);
	return NULL;
}

static int load(const char *target, double seconds, int threads, char *methods)
{
	grpc_slice ms[16];
	size_t nm = 0;
	for (char *save = NULL, *tok = strtok_r(methods, ",", &save); tok && nm < 16; tok = strtok_r(NULL, ",", &save))
		ms[nm++] = grpc_slice_from_copied_string(tok);
	struct load_arg *args = calloc((size_t)threads, sizeof *args);
	pthread_t *th = calloc((size_t)threads, sizeof *th);
	for (int i = 0; i < threads; i++) {
		args[i] = (struct load_arg){ target, ms, nm, 0, 0 };
		pthread_create(&th[i], NULL, load_thread, &args[i]);
	}
	/* Every thread connected; then everyone runs the same window. */
	struct timespec tick = { 0, 1000000 };
	while (atomic_load(&ready) < threads)
		nanosleep(&tick, NULL);
	double start = now_s();
	struct timespec len = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	nanosleep(&len, NULL);
	atomic_store(&stopping, 1);
	long ok = 0, err = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		ok += args[i].ok;
		err += args[i].err;
	}
	printf("ok=%ld err=%ld seconds=%.3f\n", ok, err, now_s() - start);
	for (size_t i = 0; i < nm; i++)
		grpc_slice_unref(ms[i]);
	free(args);
	free(th);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[2], "latency") == 0) {
		grpc_init();
		int r = latency(argv[1], atol(argv[3]), argv[4]);
		grpc_shutdown();
		return r;
	}
	if (argc >= 6 && strcmp(argv[2], "load") == 0) {
		grpc_init();
		int r = load(argv[1], atof(argv[3]), atoi(argv[4]), argv[5]);
		grpc_shutdown();
		return r;
	}
	fprintf(stderr, "usage: %s TARGET latency N METHOD | TARGET load SECONDS THREADS METHOD[,METHOD...]\n",
		argv[0]);
	return 2;
}
