/* The daemon's Check suites; each lives in its own file under tests/daemon. */
#ifndef SSID_TEST_DAEMON_SUITES_H
#define SSID_TEST_DAEMON_SUITES_H

#include <check.h>

Suite *config_suite(void);
TCase *config_keys_tcase(void); /* in the config suite */
Suite *notify_suite(void);
Suite *log_suite(void);
/* Daemon modules against a real redis-server. */
Suite *history_store_suite(void);
Suite *store_suite(void);
Suite *rank_suite(void);
Suite *rank_read_suite(void);
/* ssid in a thread against redis-server and the mock cluster. */
Suite *integration_suite(void);
/* The poison corpus (tests/poison) through a running ssid. */
Suite *poison_suite(void);
/* The ssid binary: crashes, signals, exit codes, sd_notify. */
Suite *process_suite(void);
Suite *ssictl_suite(void); /* ssictl and network rank against redis-server and the mock cluster */
/* ssid in a thread, end to end (e2e.h): */
Suite *ranks_e2e_suite(void);	 /* ranks in score.updated, rank.changed, leaderboards */
Suite *decay_alerts_suite(void); /* decay, alerts, history, decay schedules through a rebalance */
Suite *rebuild_suite(void);	 /* Redis emptied and rebuilt, a model change rescoring everyone */
Suite *onboarding_suite(void);	 /* a backfill through the live topic, the event-age boundary */

#endif
