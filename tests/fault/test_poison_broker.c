/*
 * The poison corpus (tests/poison) on the real broker: the same stream as
 * the daemon suite's mock-cluster test (fx_poison_run_* in fixture.h), with
 * an input topic that accepts its 1 MiB entry. Every bad message must land
 * in the dead-letter topic once with the manifest's reason, its key and
 * bytes; every valid one must be scored; nothing may stall a partition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "suites.h"

#define POISON_USERS	  8
#define POISON_PARTITIONS 4

START_TEST (test_poison_on_broker) {
	static const char *const input_config[] = {"max.message.bytes", FX_POISON_MESSAGE_MAX,
						   NULL};
	struct fault_opts o = {.users = POISON_USERS,
			       .partitions = POISON_PARTITIONS,
			       .batch_max_events = 32,
			       .input_config = input_config};
	struct fault_result res = {0};
	struct ssid_daemon_stats st;
	struct fx_poison_run pr;
	struct fx_daemon daemon = {0};
	struct fault_env e;
	char *conf, err[1024], fault[128];
	int64_t t0, t_done;

	fault_env_open(&e, "poison", &o);
	fx_poison_run_build(&pr, &e.stream, &e.model);
	ck_assert_int_eq(fx_poison_run_produce(&e.kafka, &e.stream, &pr), 0);

	conf = fx_read_file(e.conf_path, NULL);
	ck_assert_ptr_nonnull(conf);
	t0 = fault_now_ms();
	ck_assert_msg(fx_daemon_start(&daemon, conf, err, sizeof(err)) == 0, "ssid: %s", err);
	free(conf);
	fx_wait_drained(&e.kafka, &e.stream, daemon.log_path);
	fx_daemon_wait_events(&daemon, e.stream.n, &st);
	t_done = fault_now_ms();
	ck_assert_int_eq(fx_daemon_stop(&daemon), 0);

	ck_assert_uint_eq(st.events, e.stream.n);
	ck_assert_uint_eq(st.rejected, pr.nbad);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert_int_eq(st.degraded, 0);
	fx_poison_run_check_dead_letters(&e.kafka, &e.stream, &pr);
	fx_poison_run_check_controls(&e.redis, &e.stream, &pr, &e.model);
	fx_poison_run_check_outputs(&e.kafka, &e.stream, &pr, &e.model);
	/* The counts for the summary line; the corpus's valid events have users of their own. */
	res.other_users = pr.nvalid;
	fault_check_states(&e, &res, true);
	fault_check_outputs(&e, &res);
	fault_check_dead_letters(&e, &res);
	snprintf(fault, sizeof(fault), "%zu corpus entries (%zu bad, %zu valid) interleaved",
		 pr.corpus.n, pr.nbad, pr.nvalid);
	fault_report("poison", &res, fault, 0, (double)(t_done - t0) / 1000.0);
	fault_assert(&res);
	fx_poison_run_free(&pr);
	fault_env_close(&e);
}
END_TEST

TCase *fault_poison_tcase(void)
{
	TCase *tc = tcase_create("poison");

	tcase_add_checked_fixture(tc, fault_setup, fault_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_poison_on_broker);
	return tc;
}
