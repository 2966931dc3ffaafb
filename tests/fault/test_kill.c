/*
 * kill -9 of the real ssid binary, again and again, while it works through
 * 200,000 events of 20,000 users on 8 partitions of a real broker. Most
 * kills come when the group's committed offsets pass a random fraction of
 * the stream (so at whatever point of a batch ssid happens to be); the
 * others at the two worst moments the daemon names, SSID_FAILPOINT
 * before_delivery (ranks written, nothing delivered, saved or committed) and
 * after_delivery (outputs delivered, records not yet saved). After
 * each kill ssid is started again; at the end every user's state must be
 * the engine's over the same events: nothing lost, nothing counted twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fault.h"
#include "suites.h"

#define KILL_EVENTS	200000
#define KILL_USERS	20000
#define KILL_PARTITIONS 8
#define KILLS		12
/* Small batches: many batch boundaries for the kills to fall between and inside. */
#define KILL_BATCH 2000

/* Which kills happen at a failpoint rather than at a progress threshold. */
static const char *kill_failpoint(int i)
{
	switch (i) {
	case 2:
	case 7:
		return "before_delivery";
	case 4:
	case 10:
		return "after_delivery";
	default:
		return NULL;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

START_TEST (test_kill9_restart) {
	struct t_rng rng = {.s = 0x4B11109};
	struct fault_opts o = {
	    .users = KILL_USERS, .partitions = KILL_PARTITIONS, .batch_max_events = KILL_BATCH};
	struct fault_result res = {0};
	struct fault_env e;
	struct fx_proc p;
	double at[KILLS];
	int64_t killed_at[KILLS], t0, recovery_ms;
	int failpoint_kills = 0;
	char fault[128];

	fault_env_open(&e, "kill", &o);
	ck_assert_int_eq(fx_stream_add_random(&e.stream, &rng, KILL_EVENTS), 0);
	ck_assert_uint_eq(e.stream.n, KILL_EVENTS);
	ck_assert_int_eq(fx_produce(&e.kafka, &e.stream, 0, e.stream.n), 0);

	/* Random points of progress, in order, leaving work for the failpoint kills. */
	for (int i = 0; i < KILLS; i++)
		at[i] = 0.02 + 0.9 * (double)t_below(&rng, 1000000) / 1e6;
	qsort(at, KILLS, sizeof(at[0]), cmp_double);

	for (int i = 0; i < KILLS; i++) {
		const char *fp = kill_failpoint(i);
		int64_t before = fault_committed_total(&e.kafka);
		struct fx_proc *const procs[] = {&p};

		if (fp) {
			char env_fp[64];
			const char *const env[] = {env_fp, NULL};

			snprintf(env_fp, sizeof(env_fp), "SSID_FAILPOINT=%s", fp);
			fault_spawn(&e, &p, env, NULL);
			ck_assert_msg(fx_proc_wait(&p, FX_WAIT_MS) == 0,
				      "ssid did not reach %s in %d ms (log: %s)", fp, FX_WAIT_MS,
				      e.log_path);
			ck_assert_msg(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGKILL,
				      "ssid should die of SIGKILL at %s, status 0x%x (log: %s)", fp,
				      p.status, e.log_path);
			failpoint_kills++;
		} else {
			int64_t want = (int64_t)(at[i] * KILL_EVENTS);

			fault_spawn(&e, &p, NULL, NULL);
			/* Past the threshold, and past where this run started: it did some work. */
			fault_wait_total(&e.kafka, want > before ? want : before + 1, procs, 1,
					 e.log_path);
			fault_kill9(&p);
		}
		killed_at[i] = fault_committed_total(&e.kafka);
		ck_assert_msg(killed_at[i] < KILL_EVENTS,
			      "kill %d came after ssid had committed everything", i);
	}

	/* The last start runs to the end. */
	t0 = fault_now_ms();
	fault_spawn(&e, &p, NULL, NULL);
	fx_wait_drained(&e.kafka, &e.stream, e.log_path);
	recovery_ms = fault_now_ms() - t0;
	fx_ssid_stop_cleanly(&p, e.log_path);

	fault_check_states(&e, &res, true);
	fault_check_ranks(&e, &res);
	fault_check_outputs(&e, &res);
	fault_check_dead_letters(&e, &res);
	snprintf(fault, sizeof(fault),
		 "%d kills -9 (%d at failpoints), committed at kills %lld..%lld", KILLS,
		 failpoint_kills, (long long)killed_at[0], (long long)killed_at[KILLS - 1]);
	fault_report("kill9", &res, fault, 0, (double)recovery_ms / 1000.0);
	fault_assert(&res);
	fault_env_close(&e);
}
END_TEST

TCase *fault_kill_tcase(void)
{
	TCase *tc = tcase_create("kill9");

	tcase_add_checked_fixture(tc, fault_setup, fault_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_kill9_restart);
	return tc;
}
