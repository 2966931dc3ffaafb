/*
 * The fault suite: ssid against a real Apache Kafka broker
 * (deploy/kafka-broker.sh) and real redis-servers, under the faults
 * production brings. One broker serves the whole run: it is started here,
 * in the process that forks every test, and stopped when they are done.
 * Tests run from the repository root, after `deploy/kafka-broker.sh fetch`
 * (make check-fault does both).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "suites.h"

/* ^C or a kill of the run must not leave a JVM behind (the tests' children leave it be). */
static void on_signal(int sig)
{
	if (getpid() == fault_main_pid)
		fx_broker_kill_now(&fault_broker);
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(void)
{
	Suite *s = suite_create("fault");
	SRunner *sr;
	int r, failed;

	fault_main_pid = getpid();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	r = fx_broker_start(&fault_broker, NULL);
	if (r == 0)
		r = fx_broker_warm_groups(&fault_broker);
	if (r < 0) {
		fprintf(stderr, "check_fault: the Kafka broker did not start: %s (see %s)\n",
			strerror(-r), fault_broker.dir);
		fx_broker_destroy(&fault_broker);
		return EXIT_FAILURE;
	}
	fprintf(stderr, "check_fault: Kafka broker at %s (%s)\n", fault_broker.bootstrap,
		fault_broker.dir);
	suite_add_tcase(s, fault_kill_tcase());
	suite_add_tcase(s, fault_redis_tcase());
	suite_add_tcase(s, fault_group_tcase());
	suite_add_tcase(s, fault_poison_tcase());
	suite_add_tcase(s, fault_retention_tcase());
	suite_add_tcase(s, fault_broker_tcase());
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fx_broker_destroy(&fault_broker);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
