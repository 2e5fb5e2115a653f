/* Test-only synchronous gRPC client. See helper_client.h. */
#include "helper_client.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdlib.h>
#include <string.h>

struct tclient {
	grpc_channel *ch;
};

struct tclient *tclient_new(const char *target)
{
	grpc_init();
	struct tclient *c = calloc(1, sizeof *c);
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	c->ch = grpc_channel_create(target, creds, NULL);
	grpc_channel_credentials_release(creds);
	return c;
}

void tclient_free(struct tclient *c)
{
	if (c == NULL)
		return;
	grpc_channel_destroy(c->ch);
	free(c);
	grpc_shutdown();
}

int tclient_call(struct tclient *c, const char *method, const void *req, size_t req_len, int timeout_ms,
		 void **resp, size_t *resp_len, char **details)
{
	grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
	grpc_slice path = grpc_slice_from_copied_string(method);
	grpc_call *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path, NULL, deadline, NULL);
	grpc_slice_unref(path);

	grpc_metadata_array init_md, trail_md;
	grpc_metadata_array_init(&init_md);
	grpc_metadata_array_init(&trail_md);
	grpc_byte_buffer *send_bb = NULL, *recv_bb = NULL;
	grpc_status_code code = GRPC_STATUS_UNKNOWN;
	grpc_slice status_details = grpc_empty_slice();
	grpc_op ops[6];
	memset(ops, 0, sizeof ops);
	size_t n = 0;
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (req != NULL) {
		grpc_slice s = grpc_slice_from_copied_buffer(req, req_len);
		send_bb = grpc_raw_byte_buffer_create(&s, 1);
		grpc_slice_unref(s);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = send_bb;
	}
	ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[n++].data.recv_initial_metadata.recv_initial_metadata = &init_md;
	ops[n].op = GRPC_OP_RECV_MESSAGE;
	ops[n++].data.recv_message.recv_message = &recv_bb;
	ops[n].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[n].data.recv_status_on_client.trailing_metadata = &trail_md;
	ops[n].data.recv_status_on_client.status = &code;
	ops[n++].data.recv_status_on_client.status_details = &status_details;
	static int tag;
	if (grpc_call_start_batch(call, ops, n, &tag, NULL) == GRPC_CALL_OK)
		grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

	if (resp != NULL) {
		*resp = NULL;
		if (resp_len)
			*resp_len = 0;
		if (recv_bb != NULL) {
			grpc_byte_buffer_reader r;
			grpc_byte_buffer_reader_init(&r, recv_bb);
			grpc_slice s = grpc_byte_buffer_reader_readall(&r);
			grpc_byte_buffer_reader_destroy(&r);
			size_t len = GRPC_SLICE_LENGTH(s);
			*resp = malloc(len ? len : 1);
			memcpy(*resp, GRPC_SLICE_START_PTR(s), len);
			if (resp_len)
				*resp_len = len;
			grpc_slice_unref(s);
		}
	}
	if (details != NULL) {
		size_t len = GRPC_SLICE_LENGTH(status_details);
		*details = malloc(len + 1);
		memcpy(*details, GRPC_SLICE_START_PTR(status_details), len);
		(*details)[len] = '\0';
	}
	grpc_slice_unref(status_details);
	if (send_bb)
		grpc_byte_buffer_destroy(send_bb);
	if (recv_bb)
		grpc_byte_buffer_destroy(recv_bb);
	grpc_metadata_array_destroy(&init_md);
	grpc_metadata_array_destroy(&trail_md);
	grpc_call_unref(call);
	grpc_completion_queue_shutdown(cq);
	grpc_completion_queue_destroy(cq);
	return (int)code;
}
